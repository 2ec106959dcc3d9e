"""moto_server with IoT Core's GetRetainedMessage added — test helper for ny-power's AWS tests.

moto 5 implements iot-data `Publish` but not `GetRetainedMessage` (HTTP 500). The pump's
cursor and the CO2 function's history and forecaster state are read with `GetRetainedMessage`,
so the end-to-end runtime tests (`cargo lambda watch`) run against this launcher, which
answers it from moto's own record of publishes: the newest payload published to the topic
with `retain=true` (an empty retained payload clears it, as in MQTT). The response is the documented shape:
`{"topic", "payload" (base64), "qos", "lastModifiedTime"}`, and a topic without a retained
message gives `ResourceNotFoundException` (HTTP 404).

The adapter itself is also covered without this patch, by the SDK's replay client
(`functions/aws-adapters/tests/retained_replay.rs`).

Fault injection for the S3 archive tests: with `NY_POWER_MOTO_S3_PUT_FAILURES=SUBSTRING=N[,...]`
the first N `PutObject` requests whose key contains SUBSTRING answer HTTP 500 `InternalError`
(S3's documented error body) before reaching moto; later ones are stored as usual.

Usage: python3 tests/aws/moto_server.py -H 127.0.0.1 -p PORT   (same flags as moto_server)
"""

import base64
import json
import sys
import time
from urllib.parse import unquote

import os

from moto.iotdata import models as iotdata_models
from moto.iotdata.responses import IoTDataPlaneResponse
from moto.s3.responses import S3Response

_RETAINED = {}  # (account, region, topic) -> (payload bytes, qos, millis)


def _publish(self):
    topic = unquote(self.path.split("/topics/")[-1])
    qs = self.querystring
    retain = qs.get("retain", ["false"])[0].lower() == "true"
    qos = int(qs.get("qos", ["0"])[0])
    self.iotdata_backend.publish(topic=topic, payload=self.body)
    if retain:
        key = (self.current_account, self.region, topic)
        if self.body:
            _RETAINED[key] = (self.body, qos, int(time.time() * 1000))
        else:
            _RETAINED.pop(key, None)
    return json.dumps({})


def _get_retained_message(self):
    topic = unquote(self.path.split("/retainedMessage/")[-1])
    found = _RETAINED.get((self.current_account, self.region, topic))
    if found is None:
        body = {"message": f"No retained message for topic {topic}"}
        headers = {"status": 404, "x-amzn-ErrorType": "ResourceNotFoundException"}
        return json.dumps(body), headers
    payload, qos, millis = found
    if isinstance(payload, str):
        payload = payload.encode()
    return json.dumps(
        {
            "topic": topic,
            "payload": base64.b64encode(payload).decode(),
            "qos": qos,
            "lastModifiedTime": millis,
        }
    )


def _parse_failures(spec):
    out = {}
    for item in filter(None, (p.strip() for p in spec.split(","))):
        substring, _, count = item.rpartition("=")
        out[substring] = int(count)
    return out


_S3_PUT_FAILURES = _parse_failures(os.environ.get("NY_POWER_MOTO_S3_PUT_FAILURES", ""))
_original_key_response_put = S3Response._key_response_put


def _key_response_put(self, query, key_name):
    for substring, left in _S3_PUT_FAILURES.items():
        if left > 0 and substring in key_name and not query.get("uploadId"):
            _S3_PUT_FAILURES[substring] = left - 1
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InternalError</Code>'
                "<Message>We encountered an internal error. Please try again.</Message>"
                f"<Key>{key_name}</Key><RequestId>ny-power-test</RequestId></Error>"
            )
            return 500, {"Content-Type": "application/xml"}, body
    return _original_key_response_put(self, query, key_name)


S3Response._key_response_put = _key_response_put
IoTDataPlaneResponse.publish = _publish
IoTDataPlaneResponse.get_retained_message = _get_retained_message
assert iotdata_models  # imported so the backend registers before the server starts

if __name__ == "__main__":
    from moto.server import main

    sys.exit(main(sys.argv[1:]))
