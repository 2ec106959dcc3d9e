// Reusable pieces for browser tests against real services: a Mosquitto broker on free
// loopback ports (TCP + WebSocket), mosquitto_pub, a static file server for web/dist,
// and headless Chromium through playwright-core. Nothing here downloads anything.

import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from "node:fs";
import { createServer } from "node:http";
import { connect as netConnect, createServer as netServer } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const WEB_DIR = fileURLToPath(new URL("..", import.meta.url));
export const DIST_DIR = join(WEB_DIR, "dist");
export const ARTIFACTS_DIR = join(WEB_DIR, "e2e", "artifacts");

export const MOSQUITTO = process.env.MOSQUITTO ?? "/usr/sbin/mosquitto";
export const MOSQUITTO_PUB = process.env.MOSQUITTO_PUB ?? "mosquitto_pub";
export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";

/** Flags that work for headless Chromium as root on these machines (TOOLING.md). */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * A TCP port that is free on every interface (Mosquitto 2.0.11's WebSocket listener
 * ignores its bind address, so loopback-only is not enough).
 */
export async function freePort() {
  const srv = netServer();
  srv.listen({ port: 0, host: "::", ipv6Only: false });
  try {
    await once(srv, "listening");
  } catch {
    srv.listen({ port: 0, host: "0.0.0.0" });
    await once(srv, "listening");
  }
  const { port } = srv.address();
  srv.close();
  await once(srv, "close");
  return port;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port, { timeoutMs = 10_000, isDead = () => false } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = netConnect({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (isDead()) throw new Error(`process exited before port ${port} opened`);
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/**
 * Starts Mosquitto with a TCP listener and a WebSocket listener (anonymous access,
 * no persistence) from a config in a fresh temp directory.
 * @param {{tcpPort?: number, wsPort?: number}} [opts] fixed ports, e.g. to restart on the same ones
 */
export async function startMosquitto(opts = {}) {
  const tcpPort = opts.tcpPort ?? (await freePort());
  const wsPort = opts.wsPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), "ny-power-mosquitto-"));
  chmodSync(dir, 0o755); // Mosquitto drops to user `mosquitto` when started as root.
  const conf = join(dir, "mosquitto.conf");
  writeFileSync(
    conf,
    [
      "per_listener_settings false",
      "allow_anonymous true",
      "persistence false",
      "log_dest stderr",
      "log_type error",
      "log_type warning",
      "log_type notice",
      `listener ${tcpPort} 127.0.0.1`,
      `listener ${wsPort} 127.0.0.1`,
      "protocol websockets",
      "",
    ].join("\n"),
  );
  chmodSync(conf, 0o644);
  let log = "";
  const proc = spawn(MOSQUITTO, ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
  proc.stdout.on("data", (d) => (log += d));
  proc.stderr.on("data", (d) => (log += d));
  let exited = false;
  const exit = once(proc, "exit").then(() => (exited = true));
  try {
    await waitForPort(tcpPort, { isDead: () => exited });
    await waitForPort(wsPort, { isDead: () => exited });
  } catch (err) {
    proc.kill("SIGKILL");
    throw new Error(`mosquitto did not start: ${err.message}\n${log}`);
  }
  return {
    tcpPort,
    wsPort,
    wsUrl: `ws://127.0.0.1:${wsPort}/mqtt`,
    dir,
    pid: proc.pid,
    log: () => log,
    /** Stops the broker (SIGTERM, or SIGKILL to simulate a crash). */
    async stop(signal = "SIGTERM") {
      if (!exited) {
        proc.kill(signal);
        await exit;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Publishes with `mosquitto_pub` (retained, QoS 1 unless told otherwise).
 * @param {{tcpPort: number}} broker
 */
export async function publish(broker, topic, payload, { retain = true, qos = 1 } = {}) {
  const args = ["-h", "127.0.0.1", "-p", String(broker.tcpPort), "-q", String(qos), "-t", topic, "-m", payload];
  if (retain) args.push("-r");
  const p = spawn(MOSQUITTO_PUB, args, { stdio: ["ignore", "ignore", "pipe"] });
  let err = "";
  p.stderr.on("data", (d) => (err += d));
  const [code] = await once(p, "exit");
  if (code !== 0) throw new Error(`mosquitto_pub -t ${topic} exited ${code}: ${err}`);
}

const MIME = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".map": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * Serves `dir` on 127.0.0.1 (random port), plus in-memory files (e.g. config.json)
 * that win over the directory. Records every request path in `requests`.
 * @param {string} dir
 * @param {Record<string, string>} [files] url path -> body, e.g. {"/config.json": "{...}"}
 */
export async function startStaticServer(dir, files = {}) {
  const extra = new Map(Object.entries(files));
  const requests = [];
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    requests.push(path);
    const send = (status, body, type) => {
      res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
      res.end(body);
    };
    if (extra.has(path)) return send(200, extra.get(path), MIME[extname(path)] ?? "application/octet-stream");
    const rel = normalize(path === "/" ? "/index.html" : path);
    const file = join(dir, rel);
    if (!file.startsWith(dir.endsWith(sep) ? dir : dir + sep)) return send(403, "forbidden", "text/plain");
    try {
      if (!statSync(file).isFile()) throw new Error("not a file");
      send(200, readFileSync(file), MIME[extname(file)] ?? "application/octet-stream");
    } catch {
      send(404, "not found", "text/plain");
    }
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/`,
    requests,
    setFile(path, body) {
      extra.set(path, body);
    },
    async close() {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

/** Headless Chromium (the system one; never `playwright install`). */
export async function launchChromium() {
  const { chromium } = await import("playwright-core");
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
}

/** A config.json body for the dashboard. */
export function dashboardConfig(broker, overrides = {}) {
  return JSON.stringify({ mqtt: { url: broker.wsUrl }, topic_root: "ny-power", mode: "live", stale_after_minutes: 15, ...overrides });
}

/** Collects console warnings/errors and uncaught page errors. */
export function watchPage(page) {
  const seen = { errors: [], warnings: [], pageErrors: [] };
  page.on("console", (m) => {
    if (m.type() === "error") seen.errors.push(m.text());
    if (m.type() === "warning") seen.warnings.push(m.text());
  });
  page.on("pageerror", (e) => seen.pageErrors.push(String(e)));
  return seen;
}

/** The repository root (web/..). */
export const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
/** The ny-power binary: `NYPOWER_BIN`, else the debug build (`cargo build --bin ny-power`). */
export const NYPOWER_BIN = process.env.NYPOWER_BIN ?? join(REPO_ROOT, "target", "debug", "ny-power");

/**
 * Starts `ny-power demo --replay` and resolves once it prints `READY URL` (dashboard served,
 * first intensity on the broker; on a first run, the charge windows of eight days of backfill:
 * ~17 s for a debug build on a loaded 2-core machine, so the default wait is generous). Ports 0 pick free ones; pass the returned ports back to
 * restart on the same ones.
 * @param {{dataDir: string, webDir?: string, speed?: number, httpPort?: number, mqttPort?: number,
 *   wsPort?: number, timeoutMs?: number}} opts
 */
export async function startDemo(opts) {
  const args = [
    "demo",
    "--replay",
    "--speed",
    String(opts.speed ?? 600),
    "--http-port",
    String(opts.httpPort ?? 0),
    "--mqtt-port",
    String(opts.mqttPort ?? 0),
    "--ws-port",
    String(opts.wsPort ?? 0),
    "--data-dir",
    opts.dataDir,
    "--web-dir",
    opts.webDir ?? DIST_DIR,
  ];
  const startedAt = Date.now();
  const proc = spawn(NYPOWER_BIN, args, {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
  });
  let out = "";
  let err = "";
  proc.stderr.on("data", (d) => (err += d));
  let exited = false;
  const exit = once(proc, "exit").then(([code, signal]) => {
    exited = true;
    return { code, signal };
  });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no READY line within ${opts.timeoutMs ?? 180_000} ms`)), opts.timeoutMs ?? 180_000);
    proc.stdout.on("data", (d) => {
      out += d;
      const m = /^READY (http:\/\/\S+)$/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], at: Date.now() });
      }
    });
    exit.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`ny-power demo exited (${code ?? signal}) before READY`));
    });
  });
  let r;
  try {
    r = await ready;
  } catch (e) {
    if (!exited) proc.kill("SIGKILL");
    throw new Error(`${e.message}\nstdout:\n${out}\nstderr:\n${err}`);
  }
  const dash = /^Dashboard: http:\/\/127\.0\.0\.1:(\d+)/m.exec(out);
  const mqttLine = /^MQTT: mqtt:\/\/127\.0\.0\.1:(\d+) and ws:\/\/127\.0\.0\.1:(\d+)\//m.exec(out);
  if (!dash || !mqttLine) {
    proc.kill("SIGKILL");
    throw new Error(`could not read the ports from the demo's output:\n${out}`);
  }
  return {
    url: r.url,
    pid: proc.pid,
    startedAt,
    readyAt: r.at,
    httpPort: Number(dash[1]),
    mqttPort: Number(mqttLine[1]),
    wsPort: Number(mqttLine[2]),
    stdout: () => out,
    stderr: () => err,
    /** Sends `signal` and waits for the exit; resolves to {code, signal}. */
    async stop(signal = "SIGTERM") {
      if (!exited) proc.kill(signal);
      return exit;
    },
  };
}

/**
 * `ny-power inspect FILES…` (run from the repository root): one parsed JSON line per reading.
 * @param {string[]} files paths relative to the repository root
 * @returns {Promise<{ts: string, fuels: Record<string, number>, total_mw: number, co2: Record<string, number>}[]>}
 */
export async function inspectReadings(files) {
  const p = spawn(NYPOWER_BIN, ["inspect", ...files], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  p.stdout.on("data", (d) => (out += d));
  p.stderr.on("data", (d) => (err += d));
  const [code] = await once(p, "exit");
  if (code !== 0) throw new Error(`ny-power inspect exited ${code}: ${err}`);
  return out.split("\n").filter(Boolean).map((l) => JSON.parse(l));
}
