//! The text the stack prints once it is up: where things are and a copy-paste walkthrough.

/// A walkthrough against the given API base URLs. It needs only a shell, curl and sed.
pub fn walkthrough(member_url: &str, reservation_url: &str) -> String {
    format!(
        r#"
Member API:       {member_url}   (documented, and can be tried, at {member_url}/docs)
Reservation API:  {reservation_url}   (documented, and can be tried, at {reservation_url}/docs)
Live page:        {reservation_url}/   (reservations and members changing as you go)

Walkthrough (paste into another shell):

  # 1. Register a member (member-service writes the member and a MemberRegistered outbox row)
  MEMBER_ID=$(curl -s -X POST {member_url}/members -H 'content-type: application/json' \
    -d '{{"name":"Ada Lovelace","email":"ada-'$RANDOM'@example.com"}}' | sed -E 's/.*"id":"([^"]+)".*/\1/')
  echo "member $MEMBER_ID"

  # 2. Wait until reservation-service has heard of the member (through Kafka, not by asking)
  until curl -sf {reservation_url}/known-members/$MEMBER_ID; do sleep 0.1; done; echo

  # 3. Make two reservations for the member
  for ROOM in room-a room-b; do
    curl -s -X POST {reservation_url}/reservations -H 'content-type: application/json' \
      -d '{{"member_id":"'$MEMBER_ID'","resource":"'$ROOM-$RANDOM'","starts_at":"2030-01-01T10:00:00Z","ends_at":"2030-01-01T11:00:00Z"}}'; echo
  done

  # 4. Delete the member (204), then watch both reservations become cancelled (member_deleted)
  curl -s -o /dev/null -w 'DELETE %{{http_code}}\n' -X DELETE {member_url}/members/$MEMBER_ID
  sleep 0.2; curl -s "{reservation_url}/reservations?member_id=$MEMBER_ID"; echo

  # 5. A new reservation for the deleted member is refused (422)
  curl -s -X POST {reservation_url}/reservations -H 'content-type: application/json' \
    -d '{{"member_id":"'$MEMBER_ID'","resource":"room-c","starts_at":"2030-01-01T10:00:00Z","ends_at":"2030-01-01T11:00:00Z"}}'; echo

  # 6. Watch it live: open {reservation_url}/ in a browser, or follow the stream the page
  #    reads (Ctrl-C to stop; a Last-Event-ID header resumes after the last change you saw)
  curl -sN "{reservation_url}/updates?member_id=$MEMBER_ID"

Health: {member_url}/ready  {reservation_url}/ready  {reservation_url}/consumer
Stop with Ctrl-C; data stays in the data directory for the next start.
"#
    )
}
