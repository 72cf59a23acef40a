// Drives the dashboard of a running control plane in Debian's Chromium, as people would:
// watches a canary go through its steps, promotes it with a click, approves a run waiting at
// an environment's gate and reads the shipped step's log and the approval on the run's page,
// and checks that a viewer is offered no action. Exits non-zero on the
// first expectation that does not hold. With SHOT_DIR set, saves screenshots of each page at
// desktop and phone widths there.
//
// Environment: BW_URL (the API), BW_ADMIN, BW_APPROVER and BW_VIEWER (tokens), BW_SERVICE (a
// canary service whose strategy pauses for a person), BW_PIPELINE (a manual pipeline with a
// job gated by an environment needing one approval).

import { chromium } from "playwright-core";

const url = need("BW_URL");
const service = need("BW_SERVICE");
const pipeline = need("BW_PIPELINE");
const tokens = { admin: need("BW_ADMIN"), approver: need("BW_APPROVER"), viewer: need("BW_VIEWER") };
const shots = process.env.SHOT_DIR;
const STEP = 20000; // how long one expectation may take to come true

function need(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function log(text) {
  console.log(`${new Date().toISOString()} ${text}`);
}

async function api(token, path, body) {
  const response = await fetch(url + path, {
    method: body === undefined ? "GET" : "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

async function signedIn(browser, token, width = 1280, height = 900) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.on("pageerror", (e) => { throw new Error(`the page threw: ${e.message}`); });
  page.on("console", (m) => { if (m.type() === "error") log(`console: ${m.text()}`); });
  await page.goto(`${url}/#token=${token}`);
  await page.locator("#who").filter({ hasText: "(" }).waitFor({ timeout: STEP });
  if (page.url().includes(token)) throw new Error("the token stayed in the address bar");
  return page;
}

async function shoot(page, name) {
  if (!shots) return;
  await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  log(`screenshot ${name}`);
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await signedIn(browser, tokens.admin);
  const row = page.locator(`tr[data-service="${service}"]`);
  await row.locator(".badge.healthy").waitFor({ timeout: STEP });
  await row.locator('td[data-ready="1/1"]').waitFor({ timeout: STEP });
  await shoot(page, "services");
  log("the services page shows the service healthy");

  // Every step the page marks as current, in order, as the rollout goes through them.
  await page.goto(`${url}/#/services/${service}`);
  await page.locator("h1").filter({ hasText: service }).waitFor({ timeout: STEP });
  await page.evaluate(() => {
    window.stepsSeen = [];
    const note = () => {
      const current = document.querySelector("li[aria-current=step]");
      const text = current ? current.textContent : null;
      if (text && window.stepsSeen[window.stepsSeen.length - 1] !== text) window.stepsSeen.push(text);
    };
    new MutationObserver(note).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  const steps = await page.locator("ol.steps li").allTextContents();
  if (steps.length < 2) throw new Error(`expected the strategy's steps, saw ${JSON.stringify(steps)}`);
  await api(tokens.admin, `/v1/services/${service}/deploy`, { version: "v2" });
  log("deployed v2");
  await page.locator("h1 .badge.paused").waitFor({ timeout: STEP });
  await page.locator("button[data-action=promote]").waitFor({ timeout: STEP });
  await shoot(page, "service-paused");
  // The chart is drawn from the traffic history, which may arrive after the phase's badge.
  const lines = page.locator("figure.chart").first().locator("[data-line]");
  try {
    await lines.filter({ hasText: /^revision 2/ }).first().waitFor({ timeout: STEP });
  } catch {
    throw new Error(`no traffic line for revision 2: ${await lines.allTextContents()}`);
  }
  await page.click("button[data-action=promote]");
  log("clicked promote");
  await page.locator("h1 .badge.healthy").waitFor({ timeout: STEP });
  const stable = page.locator('tr[data-revision="2"]');
  await stable.filter({ hasText: "stable" }).waitFor({ timeout: STEP });
  // A step that waits is shown as the current one while it waits; a weight step may be over
  // within one event, and is seen completed in the live history.
  const seen = await page.evaluate(() => window.stepsSeen);
  const history = (await page.locator("ol.history").textContent()) || "";
  steps.forEach((step, i) => {
    const waited = / pause /.test(` ${step} `);
    if (waited && !seen.includes(step)) throw new Error(`step ${step} was never shown as current; saw ${JSON.stringify(seen)}`);
    if (!history.includes(`step ${i + 1} completed`)) throw new Error(`the history does not show step ${i + 1} completed: ${history}`);
  });
  log(`saw the waiting steps as current (${seen.join(" → ")}) and every step completed in the history`);
  await shoot(page, "service-promoted");

  // A viewer sees the same page, with no action offered.
  const viewer = await signedIn(browser, tokens.viewer);
  await viewer.goto(`${url}/#/services/${service}`);
  await viewer.locator("h1").filter({ hasText: service }).waitFor({ timeout: STEP });
  if (await viewer.locator("button[data-action]").count()) throw new Error("a viewer was offered actions");
  log("a viewer is offered no action");

  // A run waits at its gate; an approver approves it from the run's page.
  // The runs page is open before the run starts: the run appears and moves on by the stream
  // of run changes alone.
  const approver = await signedIn(browser, tokens.approver);
  await approver.goto(`${url}/#/runs`);
  await approver.locator("h1").filter({ hasText: "Pipeline runs" }).waitFor({ timeout: STEP });
  await approver.locator("tbody tr").first().waitFor({ timeout: STEP });
  const started = await api(tokens.admin, `/v1/pipelines/${pipeline}/dispatch`, {});
  const number = started.runs[0].number;
  log(`dispatched run ${number}`);
  await approver.locator(`tr[data-run="${number}"] .badge.waiting`).waitFor({ timeout: STEP });
  log("the open runs page shows the run waiting, live");
  await shoot(approver, "runs");
  await approver.click(`tr[data-run="${number}"] a`);
  await approver.locator("button[data-action=approve]").waitFor({ timeout: STEP });
  await approver.locator('[data-gate="ship/0"]').filter({ hasText: "1 approval" }).locator(".badge.waiting").waitFor({ timeout: STEP });
  await approver.locator('.jobbox[data-job="ship"] .jobhead .badge.gated').waitFor({ timeout: STEP });
  log("the run page shows the job waiting at its gate, with the gate's rules");
  await approver.fill("#comment", "looks good");
  await shoot(approver, "run-waiting");
  await approver.click("button[data-action=approve]");
  log("clicked approve");
  await approver.locator("h1 .badge.success").waitFor({ timeout: STEP });
  const run = await api(tokens.admin, `/v1/runs/${number}`);
  if (run.status !== "success") throw new Error(`run ${number} is ${run.status}`);
  log(`run ${number} succeeded after the approval`);
  // The job's leg and its step, chosen with the keyboard; the step's log and the review.
  await approver.focus('button[data-leg="ship/0"]');
  await approver.keyboard.press("Enter");
  await approver.locator('button[data-leg="ship/0"][aria-pressed="true"]').waitFor({ timeout: STEP });
  await approver.focus('button[data-step="1"]');
  await approver.keyboard.press("Enter");
  await approver.locator('button[data-step="1"][aria-pressed="true"] .badge.success').waitFor({ timeout: STEP });
  await approver.locator("#log").filter({ hasText: "shipped" }).waitFor({ timeout: STEP });
  await approver.locator('[data-review="alice"]').filter({ hasText: "looks good" }).locator(".badge.approved").waitFor({ timeout: STEP });
  log("the run page shows the step's log line `shipped` and alice's approval with her comment");
  await shoot(approver, "run-done");

  // The DORA page counts both promotions; the admin starts a run from the runs page's form.
  await page.goto(`${url}/#/dora`);
  await page.locator(`tr[data-dora="${service}/"]`).filter({ hasText: "(2)" }).waitFor({ timeout: STEP });
  await shoot(page, "dora");
  log("the DORA page counts the two promotions");
  if (await approver.locator("button[data-action^=dispatch-]").count()) throw new Error("an approver was offered dispatch");
  await page.goto(`${url}/#/runs`);
  await page.click(`button[data-action=dispatch-${pipeline}]`);
  await page.locator("h1").filter({ hasText: `Run #${number + 1}` }).locator(".badge.waiting").waitFor({ timeout: STEP });
  log(`the runs page's form started run ${number + 1}, and the page opened it`);

  if (shots) {
    const phone = await signedIn(browser, tokens.admin, 390, 844);
    await phone.goto(`${url}/#/services/${service}`);
    await phone.locator("h1").filter({ hasText: service }).waitFor({ timeout: STEP });
    await shoot(phone, "service-phone");
    await phone.goto(`${url}/#/runs/${number}`);
    await phone.locator("#log").filter({ hasText: "shipped" }).waitFor({ timeout: STEP });
    await shoot(phone, "run-phone");
  }
  log("ok");
} finally {
  await browser.close();
}
