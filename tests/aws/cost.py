"""Monthly AWS cost of the serverless stack, from measured per-reading counts (docs/aws.md).

    python3 tests/aws/cost.py [--pump-ms 300] [--co2-ms 60] [--archive-ms 60] [--memory-mb 128]

Message counts are what the runtime test (functions/pump/tests/runtime.rs) and the dashboard's
subscriptions (web/src/store.js) produce per NYISO reading; sizes are metered in 5 KB units.
Prices: us-east-1 list prices (see PRICES_AS_OF); no free tier assumed.
"""

import argparse
import math

PRICES_AS_OF = "2025-06 (aws.amazon.com/<service>/pricing, us-east-1)"
PRICES = {
    "iot_message_per_m": 1.00,         # IoT Core messaging, first 1 B messages
    "iot_connect_minute_per_m": 0.08,  # IoT Core connectivity
    "iot_rule_per_m": 0.15,            # rules triggered
    "iot_action_per_m": 0.15,          # actions executed
    "lambda_request_per_m": 0.20,
    "lambda_arm_gb_s": 0.0000133334,   # arm64
    "scheduler_per_m": 1.00,           # EventBridge Scheduler (14 M/month free not counted)
    "timestream_write_per_m_kb": 0.50, # LiveAnalytics writes, per million 1 KB
    "logs_ingest_per_gb": 0.50,        # CloudWatch Logs
}

MINUTES = 30 * 24 * 60          # per month
READINGS = MINUTES // 5         # NYISO publishes every 5 minutes
HISTORY_BYTES = 288 * 42        # 24 h history: 288 × ("ts", value) ≈ 12 KB
# Forecast payloads (measured by functions/co2/tests/handler.rs on February 2025): forecast
# 763 B, charge windows 577 B, band 127 B — one 5 KB unit each; the forecaster state was
# 5 551 B with 673 hourly means, ≈ 6.1 KB with the 745 kept at most (31 days): 2 units.
FORECAST_BYTES = 763
WINDOWS_BYTES = 577
BAND_BYTES = 127
STATE_BYTES = 6150
STATES_PER_READING = 1 / 12     # the state goes with the first reading of each hour


def units(nbytes):
    return max(1, math.ceil(nbytes / 5120))


def per_reading():
    """Metered IoT messages per reading (retained publishes are metered twice: PUBLISH + RETAINED)."""
    pump_publishes = 7 + 1 + 1                       # fuels, combined mix, cursor
    pump = 2 * pump_publishes
    co2 = units(HISTORY_BYTES)                       # GetRetainedMessage of the history
    co2 += units(STATE_BYTES)                        # GetRetainedMessage of the forecaster state
    co2 += 2 * (1 + 1)                               # direct + lifecycle, retained
    co2 += 2 * units(HISTORY_BYTES)                  # history, retained
    co2 += 2 * (units(FORECAST_BYTES) + units(WINDOWS_BYTES) + units(BAND_BYTES))
    co2 += 2 * units(STATE_BYTES) * STATES_PER_READING
    # Rules: co2 and archive on the fuel mix; the archive's computed/# rule is triggered by
    # the two intensities and by forecast, windows and band, but its WHERE clause runs the
    # action (the archive function) for the intensities only.
    return {"messages": pump + co2, "rules": 1 + 1 + 2 + 3, "actions": 1 + 1 + 2,
            "archive_invocations": 3, "timestream_records": 3}


def viewer_messages_per_reading():
    """Deliveries to one dashboard: its seven exact-topic subscriptions (web/src/store.js
    DASHBOARD_KINDS: both intensities, history, fuel mix, forecast, charge windows, band)."""
    return (2 + units(HISTORY_BYTES) + 1 + units(FORECAST_BYTES) + units(WINDOWS_BYTES)
            + units(BAND_BYTES))


def monthly(pump_ms, co2_ms, archive_ms, memory_mb, viewers):
    p = PRICES
    r = per_reading()
    gb = memory_mb / 1024
    polls = MINUTES                                   # rate(1 minute)
    lines = {}
    msgs = READINGS * r["messages"] + polls * 1       # + one GetRetainedMessage per poll
    lines["IoT messages (backend)"] = msgs / 1e6 * p["iot_message_per_m"]
    lines["IoT rules + actions"] = READINGS * (r["rules"] * p["iot_rule_per_m"]
                                               + r["actions"] * p["iot_action_per_m"]) / 1e6
    invocations = polls + READINGS * (1 + r["archive_invocations"])
    seconds = polls * pump_ms / 1000 + READINGS * (co2_ms + r["archive_invocations"] * archive_ms) / 1000
    lines["Lambda"] = invocations / 1e6 * p["lambda_request_per_m"] + seconds * gb * p["lambda_arm_gb_s"]
    lines["EventBridge Scheduler"] = polls / 1e6 * p["scheduler_per_m"]
    lines["Timestream writes"] = READINGS * r["timestream_records"] / 1e6 * p["timestream_write_per_m_kb"]
    lines["CloudWatch Logs"] = invocations * 300 / 1e9 * p["logs_ingest_per_gb"]
    backend = sum(lines.values())
    viewer = viewers * (READINGS * viewer_messages_per_reading() / 1e6 * p["iot_message_per_m"]
                        + MINUTES / 1e6 * p["iot_connect_minute_per_m"])
    return lines, backend, viewer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pump-ms", type=float, default=300)
    ap.add_argument("--co2-ms", type=float, default=60)
    ap.add_argument("--archive-ms", type=float, default=60)
    ap.add_argument("--memory-mb", type=int, default=128)
    a = ap.parse_args()
    print(f"per reading: {per_reading()}; per viewer: {viewer_messages_per_reading()} messages")
    lines, backend, _ = monthly(a.pump_ms, a.co2_ms, a.archive_ms, a.memory_mb, 0)
    for k, v in lines.items():
        print(f"  {k:28s} ${v:8.4f}")
    print(f"backend total                  ${backend:8.4f}")
    print("| viewers (connected 24/7) | backend | viewers | total |")
    print("|---|---|---|---|")
    for n in (0, 10, 100):
        _, b, v = monthly(a.pump_ms, a.co2_ms, a.archive_ms, a.memory_mb, n)
        print(f"| {n} | ${b:.2f} | ${v:.2f} | ${b + v:.2f} |")
    print(f"prices as of {PRICES_AS_OF}")


if __name__ == "__main__":
    main()
