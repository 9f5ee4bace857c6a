// The live page in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) watches reservation-service's page while the stack runs on free ports with a
// fresh data directory. A member is registered and makes two reservations, is deleted through
// the member API, and the page shows both reservations cancelled with `member_deleted`, without
// reloading. The stack is then stopped and started again on the same data: the page reconnects
// on its own with Last-Event-ID and catches up with what happened since. Saves a screenshot.
//
//   cargo build -p stack && node tests/browser/live_page.mjs [--screenshot docs/live-view.png]
//
// The stack binary is $STACK_BINARY, or $CARGO_TARGET_DIR/debug/stack (default target/debug).
import { spawn, spawnSync } from "node:child_process";
import { createWriteStream, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const repository = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const targetDirectory = process.env.CARGO_TARGET_DIR || join(repository, "target");
const stackBinary = process.env.STACK_BINARY || join(targetDirectory, "debug", "stack");
const screenshotArgument = process.argv.indexOf("--screenshot");
const screenshotPath = resolve(
  screenshotArgument > 0 ? process.argv[screenshotArgument + 1] : join(repository, "docs/live-view.png"),
);
const CHROMIUM = "/usr/bin/chromium";
const WAIT_MS = 30_000;

function step(text) {
  console.log(`[${new Date().toISOString().slice(11, 23)}] ${text}`);
}

async function freePort() {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/// Polls `check` until it returns a truthy value, or fails after `WAIT_MS`.
async function eventually(what, check) {
  const deadline = Date.now() + WAIT_MS;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((wake) => setTimeout(wake, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
}

class Stack {
  constructor(dataDirectory, ports, logPath) {
    this.arguments = [
      "--data-dir", dataDirectory,
      "--broker-address", `127.0.0.1:${ports.broker}`,
      "--member-address", `127.0.0.1:${ports.member}`,
      "--reservation-address", `127.0.0.1:${ports.reservation}`,
    ];
    this.dataDirectory = dataDirectory;
    this.memberUrl = `http://127.0.0.1:${ports.member}`;
    this.reservationUrl = `http://127.0.0.1:${ports.reservation}`;
    this.log = createWriteStream(logPath, { flags: "a" });
    this.logPath = logPath;
  }

  async start() {
    this.process = spawn(stackBinary, this.arguments, { stdio: ["ignore", "pipe", "pipe"] });
    this.process.stdout.pipe(this.log, { end: false });
    this.process.stderr.pipe(this.log, { end: false });
    this.exited = new Promise((done) => this.process.once("exit", (code, signal) => done({ code, signal })));
    await eventually("both services ready", async () => {
      const [member, reservation] = await Promise.all([
        fetch(`${this.memberUrl}/ready`),
        fetch(`${this.reservationUrl}/ready`),
      ]);
      return member.ok && reservation.ok;
    });
  }

  /// A token the stack's services accept, from `stack token` (the data directory's secret).
  token(...holder) {
    const minted = spawnSync(stackBinary, ["token", "--data-dir", this.dataDirectory, ...holder], { encoding: "utf8" });
    if (minted.status !== 0) throw new Error(`stack token ${holder.join(" ")}: ${minted.stderr}`);
    return minted.stdout.trim();
  }

  /// SIGTERM, as Ctrl-C: the services stop cleanly and the update streams end.
  async stop() {
    if (!this.process || this.process.exitCode !== null) return;
    this.process.kill("SIGTERM");
    const exit = await Promise.race([
      this.exited,
      new Promise((done) => setTimeout(() => done(null), WAIT_MS)),
    ]);
    if (exit === null) {
      this.process.kill("SIGKILL");
      throw new Error("the stack did not stop within 30 s of SIGTERM");
    }
    if (exit.code !== 0) throw new Error(`the stack exited with ${JSON.stringify(exit)}`);
  }
}

/// The staff token every API call below sends (set once the stack is up).
let staffToken;

async function json(url, method, body) {
  const response = await fetch(url, {
    method,
    headers: {
      authorization: `Bearer ${staffToken}`,
      ...(body ? { "content-type": "application/json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function registerMember(stack, name) {
  const email = `${name.toLowerCase().replace(/\W+/g, ".")}.${Date.now()}@example.com`;
  const { status, body } = await json(`${stack.memberUrl}/members`, "POST", { name, email });
  if (status !== 201) throw new Error(`registering ${name}: ${status} ${JSON.stringify(body)}`);
  return body.id;
}

async function reserve(stack, memberId, resource) {
  const { status, body } = await json(`${stack.reservationUrl}/reservations`, "POST", {
    member_id: memberId, resource,
    starts_at: "2030-01-01T10:00:00Z", ends_at: "2030-01-01T11:00:00Z",
  });
  if (status !== 201) throw new Error(`reserving ${resource}: ${status} ${JSON.stringify(body)}`);
  return body.id;
}

async function deleteMember(stack, memberId) {
  const response = await fetch(`${stack.memberUrl}/members/${memberId}`, {
    method: "DELETE",
    headers: { authorization: `Bearer ${staffToken}` },
  });
  if (response.status !== 204) throw new Error(`deleting ${memberId}: ${response.status}`);
}

/// What the page shows for a reservation: its row's status and reason, and the delay cell.
function rowOf(page, reservationId) {
  return page.evaluate((id) => {
    const row = document.querySelector(`tr[data-reservation-id="${id}"]`);
    return row && {
      status: row.dataset.status,
      reason: row.dataset.reason,
      delay: row.querySelector("td.delay").textContent,
    };
  }, reservationId);
}

async function showsCancelledByDeletion(page, reservationIds) {
  await eventually(`the page to show ${reservationIds.length} reservations cancelled (member_deleted)`, async () => {
    for (const id of reservationIds) {
      const row = await rowOf(page, id);
      if (!row || row.status !== "cancelled" || row.reason !== "member_deleted" || !row.delay.endsWith("ms")) {
        return false;
      }
    }
    return true;
  });
  for (const id of reservationIds) {
    const row = await rowOf(page, id);
    step(`  reservation ${id.slice(0, 8)}: ${row.status}, ${row.reason}, deletion → cancellation ${row.delay}`);
  }
}

async function main() {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`);
  if (!existsSync(stackBinary)) throw new Error(`${stackBinary} is missing: cargo build -p stack`);
  const scratch = mkdtempSync(join(tmpdir(), "live-page-"));
  const ports = { broker: await freePort(), member: await freePort(), reservation: await freePort() };
  const stack = new Stack(join(scratch, "data"), ports, join(scratch, "stack.log"));
  let browser;
  try {
    step(`starting the stack (${stackBinary}), log in ${stack.logPath}`);
    await stack.start();
    staffToken = stack.token("--staff");

    browser = await chromium.launchPersistentContext(join(scratch, "chromium-profile"), {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
      ],
      viewport: { width: 1500, height: 760 },
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    const streamRequests = [];
    page.on("request", (request) => {
      // allHeaders: the headers as sent, with the browser's own Last-Event-ID.
      if (new URL(request.url()).pathname === "/updates") streamRequests.push(request.allHeaders());
    });
    page.on("pageerror", (error) => { throw error; });
    // Without a token the page asks for one; with it in the fragment it connects, and takes
    // the token out of the address bar.
    await page.goto(`${stack.reservationUrl}/`);
    await eventually("the page to ask for a token", async () => (await page.textContent("#connection")) === "no token");
    await page.goto("about:blank");
    await page.goto(`${stack.reservationUrl}/#access_token=${staffToken}`);
    await eventually("the page to connect", async () => (await page.textContent("#connection")) === "live");
    if (page.url().includes("access_token")) throw new Error(`the token stayed in the address: ${page.url()}`);
    // Gone if the page is ever reloaded.
    await page.evaluate(() => { window.loadedOnce = true; });
    step(`page open at ${stack.reservationUrl}/`);

    const memberId = await registerMember(stack, "Ada Lovelace");
    step(`member ${memberId} registered through the member API`);
    await eventually("the page to show the member", () =>
      page.$(`tr[data-member-id="${memberId}"][data-status="active"]`));
    const reservations = [await reserve(stack, memberId, "room-a"), await reserve(stack, memberId, "room-b")];
    await eventually("the page to show both reservations active", async () =>
      (await page.$$(`tr[data-status="active"][data-reservation-id]`)).length === 2);
    step("two reservations made; the page shows them active");

    await deleteMember(stack, memberId);
    step("member deleted through the member API");
    await showsCancelledByDeletion(page, reservations);
    await eventually("the page to show the member deleted", () =>
      page.$(`tr[data-member-id="${memberId}"][data-status="deleted"]`));
    const lastIdBeforeRestart = await page.textContent("#last-id");

    step("stopping the stack");
    await stack.stop();
    await eventually("the page to notice", async () => (await page.textContent("#connection")) !== "live");
    step("starting it again on the same data");
    await stack.start();

    const secondMember = await registerMember(stack, "Grace Hopper");
    await eventually("reservation-service to learn of the second member", async () =>
      (await fetch(`${stack.reservationUrl}/known-members/${secondMember}`, {
        headers: { authorization: `Bearer ${staffToken}` },
      })).ok);
    const third = await reserve(stack, secondMember, "room-c");
    await deleteMember(stack, secondMember);
    step(`after the restart: member ${secondMember} registered, reserved, deleted`);
    await showsCancelledByDeletion(page, [third]);
    await eventually("the page to be live again", async () => (await page.textContent("#connection")) === "live");

    if (!(await page.evaluate(() => window.loadedOnce === true))) throw new Error("the page was reloaded");
    const lastEventIds = (await Promise.all(streamRequests)).map((headers) => headers["last-event-id"] ?? null);
    const resumedFrom = lastEventIds.slice(1);
    step(`stream requests' Last-Event-ID: ${JSON.stringify(lastEventIds)} (last seen before the restart: ${lastIdBeforeRestart})`);
    if (!resumedFrom.includes(lastIdBeforeRestart)) {
      throw new Error(`the page did not resume after change ${lastIdBeforeRestart}`);
    }
    const rows = await page.$$("tr[data-reservation-id]");
    if (rows.length !== 3) throw new Error(`expected 3 reservation rows, the page shows ${rows.length}`);
    for (const id of reservations) {
      const row = await rowOf(page, id);
      if (row.status !== "cancelled" || row.reason !== "member_deleted") throw new Error(`${id} lost its state`);
    }

    const lag = await eventually("the page to show the consumer's lag", async () => {
      const text = await page.textContent("#lag");
      return /^\d+ events/.test(text) && text;
    });
    step(`consumer lag on the page: ${lag}`);
    await page.screenshot({ path: screenshotPath, fullPage: true });
    step(`screenshot: ${screenshotPath}`);
    step("live page: passed");
  } catch (error) {
    console.error(`live page: FAILED: ${error.stack ?? error}`);
    if (existsSync(stack.logPath)) {
      console.error("--- stack log (last 40 lines) ---");
      console.error(readFileSync(stack.logPath, "utf8").split("\n").slice(-40).join("\n"));
    }
    process.exitCode = 1;
  } finally {
    await browser?.close().catch(() => {});
    await stack.stop().catch((error) => console.error(`stopping the stack: ${error.message}`));
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
