// The dashboard's AWS mode: guest credentials from a Cognito identity pool (unauthenticated,
// enhanced flow: GetId + GetCredentialsForIdentity over plain fetch) and a SigV4-signed
// `wss://ENDPOINT/mqtt` URL, re-signed for every reconnect. The guest role may only connect
// (as client `${identityId}-…`), subscribe and receive under the topic root: read-only.
//
// Hook-up (connect.js): `case "aws-iot": return connectAwsIot(config.mqtt, topics, handlers,
// { connectUrl });` where `connectUrl(url, topics, handlers, extra)` spreads `extra` into the
// MQTT.js options (for `clientId` and `transformWsUrl`).

import { presignIotWssUrl } from "./sigv4.js";

/** Refresh guest credentials this long before they expire. */
export const CREDENTIAL_MARGIN_MS = 5 * 60_000;
/** Lifetime of a signed URL (it only has to be valid when the WebSocket opens). */
export const URL_EXPIRES_S = 300;

const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const ENDPOINT = /^[a-z0-9]+(-ats)?\.iot\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;
const POOL = /^[a-z]{2}(-[a-z]+)+-\d:[0-9a-f-]{36}$/;

/**
 * Checks the `mqtt` object of config.json for kind "aws-iot":
 * `{"kind": "aws-iot", "region": "us-east-1", "endpoint": "xxxx-ats.iot.us-east-1.amazonaws.com",
 *   "identity_pool_id": "us-east-1:uuid"}` (the stack's DashboardConfig output).
 * @returns {{ok: true, mqtt: {kind: "aws-iot", region: string, endpoint: string, identityPoolId: string}}
 *   | {ok: false, error: string}}
 */
export function parseAwsIotConfig(mqtt) {
  const m = mqtt ?? {};
  if (typeof m.region !== "string" || !REGION.test(m.region)) {
    return { ok: false, error: 'config.json: mqtt.region must be an AWS region like "us-east-1"' };
  }
  if (typeof m.endpoint !== "string" || !ENDPOINT.test(m.endpoint)) {
    return { ok: false, error: "config.json: mqtt.endpoint must be the IoT data endpoint (xxxx-ats.iot.REGION.amazonaws.com)" };
  }
  if (typeof m.identity_pool_id !== "string" || !POOL.test(m.identity_pool_id)) {
    return { ok: false, error: 'config.json: mqtt.identity_pool_id must look like "us-east-1:0000…"' };
  }
  return {
    ok: true,
    mqtt: { kind: "aws-iot", region: m.region, endpoint: m.endpoint, identityPoolId: m.identity_pool_id },
  };
}

async function cognito(fetchImpl, region, target, body) {
  const res = await fetchImpl(`https://cognito-identity.${region}.amazonaws.com/`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-amz-json-1.1",
      "X-Amz-Target": `AWSCognitoIdentityService.${target}`,
    },
    body: JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok) {
    const type = String(json.__type ?? res.status).split("#").pop();
    throw new Error(`Cognito ${target} failed: ${type}${json.message ? `: ${json.message}` : ""}`);
  }
  return json;
}

/**
 * Guest credentials for the identity pool (a new identity unless `identityId` is given).
 * @returns {Promise<{identityId: string, accessKeyId: string, secretAccessKey: string,
 *   sessionToken: string, expiration: Date}>}
 */
export async function cognitoGuestCredentials({ region, identityPoolId, identityId, fetchImpl = globalThis.fetch }) {
  const id = identityId ?? (await cognito(fetchImpl, region, "GetId", { IdentityPoolId: identityPoolId })).IdentityId;
  if (typeof id !== "string") throw new Error("Cognito GetId returned no IdentityId");
  const out = await cognito(fetchImpl, region, "GetCredentialsForIdentity", { IdentityId: id });
  const c = out.Credentials ?? {};
  if (!c.AccessKeyId || !c.SecretKey || !c.SessionToken) {
    throw new Error("Cognito GetCredentialsForIdentity returned no credentials");
  }
  return {
    identityId: out.IdentityId ?? id,
    accessKeyId: c.AccessKeyId,
    secretAccessKey: c.SecretKey,
    sessionToken: c.SessionToken,
    // Expiration is epoch seconds in the JSON protocol.
    expiration: new Date(Number(c.Expiration) * 1000),
  };
}

/**
 * Keeps guest credentials fresh and signs URLs with them.
 * @param {{region: string, endpoint: string, identityPoolId: string}} cfg
 * @param {{fetchImpl?: typeof fetch, now?: () => Date}} [opts]
 */
export function createIotUrlSigner(cfg, { fetchImpl = globalThis.fetch, now = () => new Date() } = {}) {
  let creds = null;
  let url = null;
  const suffix = Math.random().toString(36).slice(2, 10);
  return {
    /** Fetches credentials if missing or about to expire, then signs a fresh URL. */
    async refresh() {
      const t = now();
      if (!creds || creds.expiration.getTime() - t.getTime() < CREDENTIAL_MARGIN_MS) {
        creds = await cognitoGuestCredentials({
          region: cfg.region,
          identityPoolId: cfg.identityPoolId,
          identityId: creds?.identityId,
          fetchImpl,
        });
      }
      url = await presignIotWssUrl({
        endpoint: cfg.endpoint,
        region: cfg.region,
        credentials: creds,
        date: t,
        expires: URL_EXPIRES_S,
      });
      return url;
    },
    /** The latest signed URL (null before the first refresh). */
    current: () => url,
    /** The MQTT client id the guest role allows: `${identityId}-${random}`. */
    clientId: () => (creds ? `${creds.identityId}-${suffix}` : null),
  };
}

/**
 * Connects to AWS IoT Core through the page's `connectUrl`, re-signing the URL after every
 * disconnect so each reconnect (MQTT.js calls `transformWsUrl`) uses a fresh signature.
 * @returns {{readonly client: unknown, end: () => void}}
 */
export function connectAwsIot(mqttCfg, topics, handlers, { connectUrl, fetchImpl, now, retryMs = 5000 }) {
  const signer = createIotUrlSigner(mqttCfg, { fetchImpl, now });
  let conn = null;
  let ended = false;
  let timer = null;
  handlers.onState("connecting");
  const start = () => {
    signer
      .refresh()
      .then((url) => {
        if (ended) return;
        conn = connectUrl(url, topics, handlers, {
          clientId: signer.clientId(),
          transformWsUrl: () => signer.current() ?? url,
        });
        conn.client.on("close", () => {
          if (ended) return;
          signer.refresh().catch((e) => handlers.onState("reconnecting", e.message));
        });
      })
      .catch((e) => {
        if (ended) return;
        handlers.onState("reconnecting", e.message);
        timer = setTimeout(start, retryMs);
      });
  };
  start();
  return {
    get client() {
      return conn?.client ?? null;
    },
    end() {
      ended = true;
      clearTimeout(timer);
      conn?.end();
    },
  };
}
