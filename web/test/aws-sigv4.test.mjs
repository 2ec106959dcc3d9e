// The dashboard's AWS IoT URL signer against a signature computed independently by
// botocore's SigV4 query presigner. The expected URL below was produced once with:
//
//   import datetime
//   from unittest import mock
//   import botocore.auth
//   from botocore.awsrequest import AWSRequest
//   from botocore.credentials import Credentials
//   creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
//   req = AWSRequest(method="GET", url="https://abc123xyz-ats.iot.us-east-1.amazonaws.com/mqtt")
//   fixed = datetime.datetime(2025, 2, 1, 5, 5, 0)
//   with mock.patch.object(botocore.auth, "get_current_datetime", return_value=fixed):
//       botocore.auth.SigV4QueryAuth(creds, "iotdevicegateway", "us-east-1", expires=3600).add_auth(req)
//   print(req.url)
//
// (botocore 1.43.127). The session token is not signed: AWS IoT takes it appended after the
// signature, so botocore signs without it and the test appends it.

import test from "node:test";
import assert from "node:assert/strict";

import { presignIotWssUrl, uriEncode, amzDate } from "../src/aws/sigv4.js";
import { parseAwsIotConfig, createIotUrlSigner, cognitoGuestCredentials } from "../src/aws/iot.js";

const BOTOCORE =
  "https://abc123xyz-ats.iot.us-east-1.amazonaws.com/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20250201%2Fus-east-1%2Fiotdevicegateway%2Faws4_request&X-Amz-Date=20250201T050500Z&X-Amz-Expires=3600&X-Amz-SignedHeaders=host&X-Amz-Signature=687f7bac699250156ec6fc930a6f55980c6b1a1826f471916c022e71cae956a5";

const ENDPOINT = "abc123xyz-ats.iot.us-east-1.amazonaws.com";
const KEYS = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY" };
const AT = new Date("2025-02-01T05:05:00Z");

test("signature equals botocore's presigner", async () => {
  const url = await presignIotWssUrl({ endpoint: ENDPOINT, region: "us-east-1", credentials: KEYS, date: AT, expires: 3600 });
  assert.equal(url, BOTOCORE.replace(/^https:/, "wss:"));
});

test("a session token is appended after the signature, encoded", async () => {
  const token = "FwoGZXIvYXdzE+/abc==";
  const url = await presignIotWssUrl({
    endpoint: ENDPOINT, region: "us-east-1", credentials: { ...KEYS, sessionToken: token }, date: AT, expires: 3600,
  });
  assert.equal(url, `${BOTOCORE.replace(/^https:/, "wss:")}&X-Amz-Security-Token=FwoGZXIvYXdzE%2B%2Fabc%3D%3D`);
});

test("a different second or key changes the signature", async () => {
  const base = { endpoint: ENDPOINT, region: "us-east-1", credentials: KEYS, expires: 3600 };
  const a = await presignIotWssUrl({ ...base, date: AT });
  const b = await presignIotWssUrl({ ...base, date: new Date(AT.getTime() + 1000) });
  const c = await presignIotWssUrl({ ...base, date: AT, credentials: { ...KEYS, secretAccessKey: "x" } });
  assert.notEqual(a, b);
  assert.notEqual(a, c);
});

test("encoding and dates follow SigV4", () => {
  assert.equal(uriEncode("a b/c+d=e!'()*~._-"), "a%20b%2Fc%2Bd%3De%21%27%28%29%2A~._-");
  assert.equal(amzDate(AT), "20250201T050500Z");
});

test("config for aws-iot is checked field by field", () => {
  const good = { kind: "aws-iot", region: "us-east-1", endpoint: ENDPOINT, identity_pool_id: "us-east-1:0f8b5c2e-1d2a-4b3c-9d8e-7f6a5b4c3d2e" };
  assert.deepEqual(parseAwsIotConfig(good), {
    ok: true,
    mqtt: { kind: "aws-iot", region: "us-east-1", endpoint: ENDPOINT, identityPoolId: good.identity_pool_id },
  });
  assert.match(parseAwsIotConfig({ ...good, region: "mars" }).error, /mqtt\.region/);
  assert.match(parseAwsIotConfig({ ...good, endpoint: "evil.example.com" }).error, /mqtt\.endpoint/);
  assert.match(parseAwsIotConfig({ ...good, identity_pool_id: "x" }).error, /identity_pool_id/);
});

/** Cognito Identity's JSON API in memory, answering with the documented response shapes. */
function fakeCognito({ lifetimeS = 3600 } = {}) {
  const calls = [];
  let n = 0;
  const fetchImpl = async (url, init) => {
    const target = init.headers["X-Amz-Target"];
    const body = JSON.parse(init.body);
    calls.push({ url, target, body, contentType: init.headers["Content-Type"] });
    const reply = (status, json) => ({ ok: status < 300, status, json: async () => json });
    if (target === "AWSCognitoIdentityService.GetId") {
      if (!body.IdentityPoolId) return reply(400, { __type: "InvalidParameterException", message: "pool" });
      return reply(200, { IdentityId: "us-east-1:11111111-2222-3333-4444-555555555555" });
    }
    if (target === "AWSCognitoIdentityService.GetCredentialsForIdentity") {
      n += 1;
      return reply(200, {
        IdentityId: body.IdentityId,
        Credentials: {
          AccessKeyId: `ASIA${n}`, SecretKey: `secret${n}`, SessionToken: `token${n}`,
          Expiration: Date.parse("2025-02-01T05:05:00Z") / 1000 + lifetimeS * n,
        },
      });
    }
    return reply(400, { __type: "com.amazon.coral.service#UnknownOperationException" });
  };
  return { calls, fetchImpl };
}

test("guest credentials via GetId + GetCredentialsForIdentity", async () => {
  const { calls, fetchImpl } = fakeCognito();
  const c = await cognitoGuestCredentials({ region: "us-east-1", identityPoolId: "us-east-1:pool", fetchImpl });
  assert.equal(c.accessKeyId, "ASIA1");
  assert.equal(c.expiration.toISOString(), "2025-02-01T06:05:00.000Z");
  assert.deepEqual(calls.map((x) => [x.url, x.target, x.contentType]), [
    ["https://cognito-identity.us-east-1.amazonaws.com/", "AWSCognitoIdentityService.GetId", "application/x-amz-json-1.1"],
    ["https://cognito-identity.us-east-1.amazonaws.com/", "AWSCognitoIdentityService.GetCredentialsForIdentity", "application/x-amz-json-1.1"],
  ]);
  await assert.rejects(
    cognitoGuestCredentials({ region: "us-east-1", identityPoolId: "", fetchImpl }),
    /Cognito GetId failed: InvalidParameterException: pool/,
  );
});

test("every refresh re-signs; credentials are renewed near expiry with the same identity", async () => {
  const { calls, fetchImpl } = fakeCognito();
  let t = new Date("2025-02-01T05:05:00Z");
  const signer = createIotUrlSigner(
    { region: "us-east-1", endpoint: ENDPOINT, identityPoolId: "us-east-1:pool" },
    { fetchImpl, now: () => t },
  );
  const first = await signer.refresh();
  assert.ok(first.startsWith(`wss://${ENDPOINT}/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=ASIA1%2F20250201`));
  assert.ok(first.endsWith("&X-Amz-Security-Token=token1"));
  assert.match(signer.clientId(), /^us-east-1:11111111-2222-3333-4444-555555555555-[a-z0-9]+$/);
  t = new Date("2025-02-01T05:06:00Z");
  const second = await signer.refresh();
  assert.notEqual(second, first);
  assert.match(second, /X-Amz-Date=20250201T050600Z/);
  assert.equal(calls.length, 2, "credentials still valid: no new Cognito call");
  t = new Date("2025-02-01T06:01:00Z"); // 4 min before expiry
  const third = await signer.refresh();
  assert.match(third, /Credential=ASIA2/);
  assert.equal(calls.length, 3, "renewed with GetCredentialsForIdentity only");
  assert.equal(calls[2].body.IdentityId, "us-east-1:11111111-2222-3333-4444-555555555555");
  assert.equal(signer.current(), third);
});
