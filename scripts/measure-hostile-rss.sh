#!/usr/bin/env bash
# Peak RSS and log size of the real `ny-power pump` against hostile NYISO stand-ins (issue 10,
# defect 4): a body that never ends, and a ~2 MB gzip body that inflates to 2 GiB.
#
# Starts its own Mosquitto and a small Python HTTP server on free loopback ports, runs the pump
# binary under /usr/bin/time -v for SECONDS (default 15) per case, stops it with SIGTERM (by
# PID), and prints the peak RSS, the number of polls and the log bytes per poll.
#
#   scripts/measure-hostile-rss.sh [SECONDS]        (BIN=path/to/ny-power to pick a binary)
set -euo pipefail

cd "$(dirname "$0")/.."
SECONDS_PER_CASE="${1:-15}"
BIN="${BIN:-${CARGO_TARGET_DIR:-target}/debug/ny-power}"
if [[ ! -x "$BIN" ]]; then
    cargo build --bin ny-power
fi
WORK="$(mktemp -d)"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 1 100); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "port $1 never opened" >&2
    return 1
}

MQTT_PORT="$(free_port)"
chown mosquitto:mosquitto "$WORK" 2>/dev/null || true
cat >"$WORK/mosquitto.conf" <<EOF
per_listener_settings false
allow_anonymous true
persistence false
listener $MQTT_PORT 127.0.0.1
EOF
mosquitto -c "$WORK/mosquitto.conf" >"$WORK/mosquitto.log" 2>&1 &
PIDS+=($!)
wait_port "$MQTT_PORT"

cat >"$WORK/hostile.py" <<'EOF'
import http.server, socketserver, sys, zlib

mode, port = sys.argv[1], int(sys.argv[2])
if mode == "gzip":
    # 2 GiB of zeros, gzip-encoded (~2 MB), built in 1 MiB steps.
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    zero = bytes(1 << 20)
    BOMB = b"".join(c.compress(zero) for _ in range(2048)) + c.flush()
    print(f"gzip bomb: {len(BOMB)} bytes on the wire, {2048 << 20} inflated", flush=True)

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/csv")
        self.send_header("Connection", "close")
        if mode == "gzip":
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(BOMB)))
            self.end_headers()
            self.wfile.write(BOMB)
            return
        self.end_headers()
        self.wfile.write(b"Time Stamp,Time Zone,Fuel Category,Gen MW\r\n")
        chunk = b"02/01/2025 00:05:00,EST,Wind,671.0\r\n" * 2000
        try:
            while True:
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass

class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True

S(("127.0.0.1", port), H).serve_forever()
EOF

for mode in endless gzip; do
    HTTP_PORT="$(free_port)"
    python3 "$WORK/hostile.py" "$mode" "$HTTP_PORT" >"$WORK/http-$mode.log" 2>&1 &
    HTTP_PID=$!
    PIDS+=("$HTTP_PID")
    for _ in $(seq 1 300); do
        python3 -c "import socket; socket.create_connection(('127.0.0.1',$HTTP_PORT),0.2)" 2>/dev/null && break
        sleep 0.1
    done
    /usr/bin/time -v -o "$WORK/time-$mode.txt" "$BIN" pump \
        --mqtt-url "mqtt://127.0.0.1:$MQTT_PORT" \
        --nyiso-base-url "http://127.0.0.1:$HTTP_PORT" \
        --poll-interval 60 >"$WORK/pump-$mode.log" 2>&1 &
    TIME_PID=$!
    sleep "$SECONDS_PER_CASE"
    # Stop the pump (the child of /usr/bin/time) by its PID.
    PUMP_PID="$(pgrep -P "$TIME_PID" || true)"
    [[ -n "$PUMP_PID" ]] && kill -TERM "$PUMP_PID"
    wait "$TIME_PID" || true
    kill "$HTTP_PID" 2>/dev/null || true
    polls="$(grep -c 'poll failed' "$WORK/pump-$mode.log" || true)"
    log_bytes="$(wc -c <"$WORK/pump-$mode.log")"
    rss_kb="$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/time-$mode.txt")"
    echo "== $mode: $(head -n1 "$WORK/http-$mode.log" 2>/dev/null)"
    echo "   peak RSS ${rss_kb} kB ($((rss_kb / 1024)) MB); ${polls} failed polls in ${SECONDS_PER_CASE} s;" \
        "log ${log_bytes} bytes ($((log_bytes / (polls > 0 ? polls : 1))) bytes per failed poll)"
    echo "   first failure: $(grep -m1 'poll failed' "$WORK/pump-$mode.log" | cut -c1-400)"
done
