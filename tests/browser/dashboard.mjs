// Drives the dashboard in Debian's headless Chromium for tests/dashboard.rs. It talks in JSON
// lines on stdout, one per event:
//   {"event":"loaded", "status", "view", "qr"}   the page is up (and screenshots are saved);
//   {"event":"step", "step", "notice", "noticeBad", "view"}   after each click of STEPS; then it
//       waits for one line on stdin, so the test can look at the files on disk before the next;
//   {"event":"done", "blocked", "failed", "badResponses", "consoleErrors", "pageErrors"}.
// Every request to anything but the bridge is aborted and recorded: the page must work offline.
//
// Env: BRIDGE (http://127.0.0.1:PORT), NODE_PATH (.tools/browser/node_modules), CHROMIUM
// (default /usr/bin/chromium), SCREENSHOT (a PNG path: the page in light mode there, in dark
// mode beside it as *-dark.png; taken once loaded, or at the step "screenshot"), STEPS (a JSON
// array of: "websearch", "clawrouter", "subscription", "model:<slug>", "update-models",
// "screenshot").
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";
import { createInterface } from "node:readline";

const require = createRequire(process.env.NODE_PATH + "/");
const { chromium } = require("playwright-core");
const { PNG } = require("pngjs");
const jsQR = require("jsqr");

const bridge = process.env.BRIDGE;
const steps = JSON.parse(process.env.STEPS || "[]");
const say = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();

const seen = { blocked: [], failed: [], badResponses: [], consoleErrors: [], pageErrors: [] };
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const context = await browser.newContext({ viewport: { width: 1120, height: 560 } });
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(bridge + "/")) return route.continue();
    seen.blocked.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("console", (msg) => { if (msg.type() === "error") seen.consoleErrors.push(msg.text()); });
  page.on("pageerror", (err) => seen.pageErrors.push(String(err)));
  page.on("requestfailed", (req) => seen.failed.push(req.url() + " " + (req.failure() || {}).errorText));
  page.on("response", (res) => { if (res.status() >= 400) seen.badResponses.push(res.status() + " " + res.url()); });

  const response = await page.goto(bridge + "/dashboard");
  await page.waitForSelector("body[data-loaded=true]", { timeout: 30000 });

  const view = async () => page.evaluate(() => {
    const t = (id) => {
      const element = document.getElementById(id);
      return element && element.checkVisibility() ? element.textContent.trim() : "";
    };
    return {
      balance: t("balance"), chain: t("chain"), walletState: t("wallet-state"),
      address: t("wallet-address"), fundShown: document.getElementById("fund").checkVisibility(),
      fundLabel: t("fund-label"), evmNote: t("evm-note"),
      qrLabel: document.getElementById("qr").getAttribute("aria-label"),
      proxy: t("status-proxy"), catalog: t("status-catalog"), version: t("status-version"),
      upstream: t("status-upstream"),
      route: t("status-route"),
      spendTotal: t("spend-total"), spendSavings: t("spend-savings"), spendPercent: t("spend-percent"),
      spendRequests: t("spend-requests"), spendState: t("spend-state"), spendMax: t("spend-max"),
      bars: document.querySelectorAll("#spend-chart rect.bar").length,
      configState: t("config-banner"), modelsState: t("models-state"),
      defaultModel: t("default-model"),
      models: [...document.querySelectorAll("#families button")].map((b) => b.dataset.slug),
      families: [...document.querySelectorAll("#families h3")].map((h) => h.textContent),
      desktopOn: document.getElementById("mode-clawrouter").getAttribute("aria-pressed") === "true",
      subscriptionOn: document.getElementById("mode-subscription").getAttribute("aria-pressed") === "true",
      websearch: document.getElementById("websearch-toggle").getAttribute("aria-checked"),
    };
  });

  let qr = null;
  const code = await page.$("#qr svg");
  if (code) {
    const png = PNG.sync.read(await code.screenshot());
    const found = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
    qr = found ? found.data : null;
  }
  const screenshots = async () => {
    if (!process.env.SCREENSHOT) return;
    // No notice over the page.
    await page.evaluate(() => { document.getElementById("notice").className = ""; });
    await page.waitForFunction(() => getComputedStyle(document.getElementById("notice")).opacity === "0");
    writeFileSync(process.env.SCREENSHOT, await page.screenshot({ fullPage: true }));
    await page.emulateMedia({ colorScheme: "dark" });
    writeFileSync(process.env.SCREENSHOT.replace(/\.png$/, "-dark.png"),
      await page.screenshot({ fullPage: true }));
    await page.emulateMedia({ colorScheme: "light" });
  };
  if (!steps.includes("screenshot")) await screenshots();
  say({ event: "loaded", status: response.status(), view: await view(), qr });

  let acted = 0;
  for (const step of steps) {
    if (step === "screenshot") {
      await screenshots();
      say({ event: "step", step, view: await view() });
      await lines.next();
      continue;
    }
    const selector = step.startsWith("model:")
      ? `#families button[data-slug="${step.slice(6)}"]`
      : { websearch: "#websearch-toggle", clawrouter: "#mode-clawrouter",
          subscription: "#mode-subscription", "update-models": "#update-models" }[step];
    acted += 1;
    await page.click(selector);
    await page.waitForSelector(`body[data-acted="${acted}"]`, { timeout: 60000 });
    const notice = await page.$eval("#notice", (n) => ({
      text: n.textContent, bad: n.classList.contains("bad"),
    }));
    say({ event: "step", step, notice: notice.text, noticeBad: notice.bad, view: await view() });
    await lines.next();
  }
} finally {
  await browser.close();
}
say({ event: "done", ...seen });
process.exit(0);
