// Drives the dashboard in Debian's headless Chromium for tests/dashboard.rs, and prints one JSON
// object with what it saw. Every request to anything but the bridge is aborted and recorded, as
// are failed requests, console errors and page errors: the page must work offline.
//
// Env: BRIDGE (http://127.0.0.1:PORT), NODE_PATH (.tools/browser/node_modules), CHROMIUM,
// MODE = "look" (read the page; SCREENSHOT = where to save a full-page PNG) or "act" (also
// click the web-search switch, ClawRouter, the model MODEL_SLUG and Update models).
import { createRequire } from "node:module";
import { writeFileSync } from "node:fs";

const require = createRequire(process.env.NODE_PATH + "/");
const { chromium } = require("playwright-core");
const { PNG } = require("pngjs");
const jsQR = require("jsqr");

const bridge = process.env.BRIDGE;
const result = { blocked: [], failed: [], consoleErrors: [], pageErrors: [], notices: [] };

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
try {
  const context = await browser.newContext({ viewport: { width: 1180, height: 900 } });
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(bridge + "/")) return route.continue();
    result.blocked.push(url);
    return route.abort();
  });
  const page = await context.newPage();
  page.on("console", (msg) => { if (msg.type() === "error") result.consoleErrors.push(msg.text()); });
  page.on("pageerror", (err) => result.pageErrors.push(String(err)));
  page.on("requestfailed", (req) => result.failed.push(req.url() + " " + (req.failure() || {}).errorText));

  const response = await page.goto(bridge + "/dashboard");
  result.status = response.status();
  result.csp = response.headers()["content-security-policy"] || "";
  await page.waitForSelector("body[data-loaded=true]", { timeout: 20000 });

  const read = async () => page.evaluate(() => {
    const t = (id) => (document.getElementById(id) || {}).textContent || "";
    return {
      balance: t("balance"), chain: t("chain"), walletState: t("wallet-state"),
      address: t("wallet-address"), fundShown: !document.getElementById("fund").hidden,
      proxy: t("status-proxy"), catalog: t("status-catalog"), version: t("status-version"),
      spendTotal: t("spend-total"), spendState: t("spend-state"),
      bars: document.querySelectorAll("#spend-chart rect").length,
      configState: t("config-state"), modelsState: t("models-state"),
      defaultModel: t("default-model"),
      models: [...document.querySelectorAll("#families button")].map((b) => b.dataset.slug),
      families: [...document.querySelectorAll("#families h3")].map((h) => h.textContent),
      desktopOn: document.getElementById("mode-clawrouter").classList.contains("on"),
      subscriptionOn: document.getElementById("mode-subscription").classList.contains("on"),
      websearch: t("websearch-label"),
    };
  });
  result.before = await read();

  const qr = await page.$("#qr svg");
  if (qr) {
    const png = PNG.sync.read(await qr.screenshot());
    const code = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
    result.qr = code ? code.data : null;
  }
  if (process.env.SCREENSHOT) {
    writeFileSync(process.env.SCREENSHOT, await page.screenshot({ fullPage: true }));
  }

  if (process.env.MODE === "act") {
    let acted = 0;
    const click = async (selector) => {
      acted += 1;
      await page.click(selector);
      await page.waitForSelector(`body[data-acted="${acted}"]`, { timeout: 60000 });
      result.notices.push(await page.textContent("#notice"));
    };
    await click("#websearch-toggle");
    await click("#mode-clawrouter");
    await click(`#families button[data-slug="${process.env.MODEL_SLUG}"]`);
    await click("#update-models");
    result.after = await read();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(result) + "\n");
