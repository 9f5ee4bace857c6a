//! Stopping and starting the services of a running [`BenchSystem`]: the consumer outage, the
//! observability rounds, and the check that no child died.

use std::time::Duration;

use system_tests::process::reservation_service_arguments;

use super::BenchSystem;
use crate::{
    error::BenchError,
    processes::{Role, ServiceProcess, free_address, wait_until_healthy},
    resources::{self, Component},
};

/// How long services restarted between the observability rounds may take to be ready.
const READY_DEADLINE: Duration = Duration::from_secs(60);

impl BenchSystem {
    /// Brings the list of watched processes up to date after a child stopped or started.
    pub(super) fn refresh_watched(&self) {
        let mut pids = vec![(Component::LoadGenerator, std::process::id())];
        for process in [
            self.member.as_ref(),
            self.reservation.as_ref(),
            self.broker.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            if let Some(pid) = process.pid() {
                pids.push((Component::of_role(process.role()), pid));
            }
        }
        if self.broker.is_none()
            && let Some(pid) = self
                .bootstrap_servers
                .rsplit(':')
                .next()
                .and_then(|port| port.parse().ok())
                .and_then(resources::listening_pid)
        {
            pids.push((Component::Broker, pid));
        }
        if let Ok(mut watched) = self.watched.lock() {
            *watched = pids;
        }
    }

    /// Stops reservation-service gracefully (it commits its offsets), as a deployment would.
    pub async fn stop_consumer(&mut self) -> Result<(), BenchError> {
        self.set_reservation_address(None);
        let stopped = match self.reservation.take() {
            Some(process) => process.terminate().await,
            None => Ok(()),
        };
        self.refresh_watched();
        stopped
    }

    /// Starts reservation-service: same database, same consumer group, a new port.
    pub async fn start_consumer(&mut self) -> Result<(), BenchError> {
        let address = free_address()?;
        let mut process = ServiceProcess::spawn(
            Role::ReservationService,
            &reservation_service_arguments(&self.reservation_config, address),
            &self.service_environment,
            &self
                .logs
                .join(format!("reservation-service-{}.log", address.port())),
        )?;
        let url = format!("http://{address}");
        wait_until_healthy(&self.http, &url, &mut process).await?;
        self.reservation = Some(process);
        self.set_reservation_address(Some(url));
        self.refresh_watched();
        Ok(())
    }

    /// Stops both services gracefully and starts them again with `environment` added to their
    /// own: same databases, topic and consumer group, new ports.
    pub async fn restart_services(
        &mut self,
        environment: Vec<(String, String)>,
    ) -> Result<(), BenchError> {
        self.stop_consumer().await?;
        if let Some(member) = self.member.take() {
            member.terminate().await?;
        }
        self.service_environment = environment;
        let (member, url) = start_member(
            &self.http,
            &self.logs,
            &self.member_arguments,
            &self.service_environment,
        )
        .await?;
        self.member = Some(member);
        self.member_url = url;
        self.start_consumer().await
    }

    /// Waits until both services answer `/ready`: reservation-service's consumer holds its
    /// partitions (a group join can take seconds), member-service's relay reaches the broker.
    pub async fn wait_until_ready(&self) -> Result<(), BenchError> {
        let urls = [Some(self.member_url.clone()), self.reservation_url()];
        let give_up = tokio::time::Instant::now() + READY_DEADLINE;
        for url in urls.into_iter().flatten() {
            loop {
                let ready = self.http.get(format!("{url}/ready")).send().await;
                if ready.is_ok_and(|response| response.status().is_success()) {
                    break;
                }
                if tokio::time::Instant::now() >= give_up {
                    return Err(BenchError::Timeout {
                        what: "both services to answer /ready",
                        after: READY_DEADLINE,
                    });
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        Ok(())
    }

    /// Fails when a child has died: a figure measured without it would mean nothing.
    pub fn check_running(&mut self) -> Result<(), BenchError> {
        for process in [
            self.member.as_mut(),
            self.reservation.as_mut(),
            self.broker.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            process.check_running()?;
        }
        Ok(())
    }

    fn set_reservation_address(&self, url: Option<String>) {
        if let Ok(mut address) = self.reservation_address.lock() {
            *address = url;
        }
    }
}

/// Starts member-service on a new port; its process and base URL once it answers.
pub(super) async fn start_member(
    http: &reqwest::Client,
    logs: &std::path::Path,
    arguments: &[String],
    environment: &[(String, String)],
) -> Result<(ServiceProcess, String), BenchError> {
    let address = free_address()?;
    let mut all_arguments = vec![format!("--listen-address={address}")];
    all_arguments.extend(arguments.iter().cloned());
    let mut process = ServiceProcess::spawn(
        Role::MemberService,
        &all_arguments,
        environment,
        &logs.join(format!("member-service-{}.log", address.port())),
    )?;
    let url = format!("http://{address}");
    wait_until_healthy(http, &url, &mut process).await?;
    Ok((process, url))
}
