// AWS Signature Version 4 query-string presigning with WebCrypto (`crypto.subtle`): works
// in browsers and Node ≥ 20, no dependencies. Used to sign the AWS IoT Core MQTT-over-WSS
// URL (service `iotdevicegateway`, GET /mqtt, only the `host` header signed). AWS IoT wants
// the session token appended *after* signing (it is not part of the canonical request).
// Checked against botocore's presigner in test/aws-sigv4.test.mjs.

const enc = new TextEncoder();
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ */
export function uriEncode(s) {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

function hex(buf) {
  return Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256Hex(text) {
  return hex(await crypto.subtle.digest("SHA-256", enc.encode(text)));
}

async function hmac(key, text) {
  const k = await crypto.subtle.importKey(
    "raw",
    typeof key === "string" ? enc.encode(key) : key,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, enc.encode(text)));
}

/** `20250201T050500Z` */
export function amzDate(date) {
  return date.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

/**
 * Presigns a GET URL with SigV4 query parameters.
 * @param {{host: string, path?: string, service: string, region: string,
 *   credentials: {accessKeyId: string, secretAccessKey: string, sessionToken?: string},
 *   date?: Date, expires?: number, scheme?: string}} p
 * @returns {Promise<string>} `${scheme}://${host}${path}?X-Amz-…&X-Amz-Signature=…` and, with a
 *   session token, `&X-Amz-Security-Token=…` after the signature (AWS IoT's convention).
 */
export async function presignUrl({
  host,
  path = "/",
  service,
  region,
  credentials,
  date = new Date(),
  expires = 3600,
  scheme = "https",
}) {
  const stamp = amzDate(date);
  const day = stamp.slice(0, 8);
  const scope = `${day}/${region}/${service}/aws4_request`;
  const params = [
    ["X-Amz-Algorithm", "AWS4-HMAC-SHA256"],
    ["X-Amz-Credential", `${credentials.accessKeyId}/${scope}`],
    ["X-Amz-Date", stamp],
    ["X-Amz-Expires", String(expires)],
    ["X-Amz-SignedHeaders", "host"],
  ];
  const query = params
    .map(([k, v]) => [uriEncode(k), uriEncode(v)])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  const canonicalPath = path.split("/").map(uriEncode).join("/");
  const canonicalRequest = ["GET", canonicalPath, query, `host:${host}`, "", "host", EMPTY_SHA256].join("\n");
  const toSign = ["AWS4-HMAC-SHA256", stamp, scope, await sha256Hex(canonicalRequest)].join("\n");
  let key = await hmac(`AWS4${credentials.secretAccessKey}`, day);
  key = await hmac(key, region);
  key = await hmac(key, service);
  key = await hmac(key, "aws4_request");
  const signature = hex(await hmac(key, toSign));
  let url = `${scheme}://${host}${path}?${query}&X-Amz-Signature=${signature}`;
  if (credentials.sessionToken) url += `&X-Amz-Security-Token=${uriEncode(credentials.sessionToken)}`;
  return url;
}

/**
 * The signed `wss://{endpoint}/mqtt` URL for AWS IoT Core.
 * @param {{endpoint: string, region: string, credentials: object, date?: Date, expires?: number}} p
 */
export function presignIotWssUrl({ endpoint, region, credentials, date, expires }) {
  return presignUrl({
    host: endpoint,
    path: "/mqtt",
    service: "iotdevicegateway",
    region,
    credentials,
    date,
    expires,
    scheme: "wss",
  });
}
