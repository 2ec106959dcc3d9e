"""Monthly AWS cost of the serverless stack per archive backend, from counted messages and
objects per reading (docs/aws.md).

    python3 tests/aws/cost.py [--pump-ms 300] [--co2-ms 60] [--archive-ms 60] [--memory-mb 128]
                              [--influx-hourly 0.12] [--athena-queries 100]

Counts per NYISO reading: the IoT messages the runtime test (functions/pump/tests/runtime.rs)
and the co2 handler tests produce, the dashboard's subscriptions (web/src/store.js), and the
archive objects/records one reading becomes (functions/aws-adapters/tests/moto.rs: one fuel-mix
object and one per factor table = 3). Sizes are metered in 5 KB units (IoT) and 1 KB (Timestream
writes). Prices: us-east-1 list prices (see PRICES_AS_OF); no free tier assumed.
"""

import argparse
import math

PRICES_AS_OF = "2025-06, us-east-1 (aws.amazon.com/<service>/pricing)"
PRICES = {
    "iot_message_per_m": 1.00,          # IoT Core messaging, first 1 B messages
    "iot_connect_minute_per_m": 0.08,   # IoT Core connectivity
    "iot_rule_per_m": 0.15,             # rules triggered
    "iot_action_per_m": 0.15,           # actions executed
    "lambda_request_per_m": 0.20,
    "lambda_arm_gb_s": 0.0000133334,    # arm64
    "scheduler_per_m": 1.00,            # EventBridge Scheduler (14 M/month free not counted)
    "logs_ingest_per_gb": 0.50,         # CloudWatch Logs
    "s3_put_per_k": 0.005,              # S3 Standard PUT/COPY/POST/LIST per 1,000
    "s3_gb_month": 0.023,               # S3 Standard storage, first 50 TB
    "athena_per_tb": 5.00,              # Athena SQL, per TB scanned, 10 MB minimum per query
    "timestream_write_per_m_kb": 0.50,  # LiveAnalytics writes, per million 1 KB
    "timestream_memory_gb_hour": 0.036,  # LiveAnalytics memory store
    "timestream_magnetic_gb_month": 0.03,
}
# Timestream for InfluxDB is billed per instance-hour whatever the load: db.influx.medium
# (1 vCPU, 8 GiB), Single-AZ. The hourly price was not retrievable when this was written —
# pass the pricing page's figure with --influx-hourly; storage (20 GB minimum) comes on top.
INFLUX_HOURLY_DEFAULT = 0.12

MINUTES = 30 * 24 * 60          # per month
HOURS = 30 * 24
READINGS = MINUTES // 5         # NYISO publishes every 5 minutes
# Largest payloads measured by tests/payload_limits.rs: the 24 h history at the densest real
# day (2025-02-11, 309 readings) 12 932 B = 3 units; the forecaster state holding its full
# 31 days 8 224 B = 2 units.
HISTORY_BYTES = 12932
# Forecast payloads (same test): forecast 763 B, charge windows 577 B, band 131 B — one unit each.
FORECAST_BYTES = 763
WINDOWS_BYTES = 577
BAND_BYTES = 131
STATE_BYTES = 8224
STATES_PER_READING = 1 / 12     # the state goes with the first reading of each hour
# The archive: per reading one fuel-mix point and one intensity per table (direct, lifecycle).
ARCHIVE_POINTS = 3
OBJECT_BYTES = (207 + 2 * 72)   # the three JSON lines of one reading (moto test bodies)

BACKENDS = ["s3", "timestream", "influxdb", "none"]


def units(nbytes):
    return max(1, math.ceil(nbytes / 5120))


def per_reading(backend):
    """Metered IoT messages, rules and actions per reading (retained publishes are metered
    twice: PUBLISH + RETAINED)."""
    pump = 2 * (7 + 1 + 1)                           # fuels, combined mix, cursor
    co2 = units(HISTORY_BYTES)                       # GetRetainedMessage of the history
    co2 += units(STATE_BYTES)                        # GetRetainedMessage of the forecaster state
    co2 += 2 * (1 + 1)                               # direct + lifecycle, retained
    co2 += 2                                         # archive/co2/points ×2, not retained
    co2 += 2 * units(HISTORY_BYTES)                  # history, retained
    co2 += 2 * (units(FORECAST_BYTES) + units(WINDOWS_BYTES) + units(BAND_BYTES))
    co2 += 2 * units(STATE_BYTES) * STATES_PER_READING
    archive = backend != "none"
    # Rules: co2 on the fuel mix; with an archive also the archive's fuel-mix rule and its
    # archive/co2/points rule (two messages). Each triggers one Lambda action.
    rules = 1 + (1 + 2 if archive else 0)
    return {"messages": pump + co2, "rules": rules, "actions": rules,
            "archive_invocations": ARCHIVE_POINTS if archive else 0}


def viewer_messages_per_reading():
    """Deliveries to one dashboard: its seven exact-topic subscriptions (web/src/store.js
    DASHBOARD_KINDS: both intensities, history, fuel mix, forecast, charge windows, band)."""
    return (2 + units(HISTORY_BYTES) + 1 + units(FORECAST_BYTES) + units(WINDOWS_BYTES)
            + units(BAND_BYTES))


def archive_cost(backend, influx_hourly, athena_queries, months_kept=12):
    """The backend's own monthly cost (storage after `months_kept` months of archive)."""
    p = PRICES
    if backend == "s3":
        puts = READINGS * ARCHIVE_POINTS / 1000 * p["s3_put_per_k"]
        stored_gb = READINGS * OBJECT_BYTES * months_kept / 1e9
        # Athena bills at least 10 MB per query; a day is ~0.1 MB, a year ~35 MB.
        athena = athena_queries * 10e6 / 1e12 * p["athena_per_tb"]
        return {"S3 PUTs": puts, "S3 storage": stored_gb * p["s3_gb_month"],
                "Athena queries": athena}
    if backend == "timestream":
        writes = READINGS * ARCHIVE_POINTS / 1e6 * p["timestream_write_per_m_kb"]
        memory_gb = (READINGS / 30) * ARCHIVE_POINTS * 1024 / 1e9   # 24 h in the memory store
        magnetic_gb = READINGS * ARCHIVE_POINTS * 1024 * months_kept / 1e9
        return {"Timestream writes": writes,
                "Timestream memory store": memory_gb * HOURS * p["timestream_memory_gb_hour"],
                "Timestream magnetic store": magnetic_gb * p["timestream_magnetic_gb_month"]}
    if backend == "influxdb":
        return {"Timestream for InfluxDB instance": influx_hourly * HOURS}
    return {}


def monthly(backend, pump_ms, co2_ms, archive_ms, memory_mb, viewers, influx_hourly,
            athena_queries):
    p = PRICES
    r = per_reading(backend)
    gb = memory_mb / 1024
    polls = MINUTES                                   # rate(1 minute)
    lines = {}
    msgs = READINGS * r["messages"] + polls * 1       # + one GetRetainedMessage per poll
    lines["IoT messages (backend)"] = msgs / 1e6 * p["iot_message_per_m"]
    lines["IoT rules + actions"] = READINGS * (r["rules"] * p["iot_rule_per_m"]
                                               + r["actions"] * p["iot_action_per_m"]) / 1e6
    invocations = polls + READINGS * (1 + r["archive_invocations"])
    seconds = (polls * pump_ms + READINGS * (co2_ms + r["archive_invocations"] * archive_ms)) / 1000
    lines["Lambda"] = invocations / 1e6 * p["lambda_request_per_m"] + seconds * gb * p["lambda_arm_gb_s"]
    lines["EventBridge Scheduler"] = polls / 1e6 * p["scheduler_per_m"]
    lines["CloudWatch Logs"] = invocations * 300 / 1e9 * p["logs_ingest_per_gb"]
    lines.update(archive_cost(backend, influx_hourly, athena_queries))
    backend_total = sum(lines.values())
    viewer = viewers * (READINGS * viewer_messages_per_reading() / 1e6 * p["iot_message_per_m"]
                        + MINUTES / 1e6 * p["iot_connect_minute_per_m"])
    return lines, backend_total, viewer


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pump-ms", type=float, default=300)
    ap.add_argument("--co2-ms", type=float, default=60)
    ap.add_argument("--archive-ms", type=float, default=60)
    ap.add_argument("--memory-mb", type=int, default=128)
    ap.add_argument("--influx-hourly", type=float, default=INFLUX_HOURLY_DEFAULT)
    ap.add_argument("--athena-queries", type=int, default=100)
    a = ap.parse_args()
    args = (a.pump_ms, a.co2_ms, a.archive_ms, a.memory_mb)
    extra = (a.influx_hourly, a.athena_queries)
    print(f"per viewer: {viewer_messages_per_reading()} messages per reading")
    for backend in BACKENDS:
        lines, total, _ = monthly(backend, *args, 0, *extra)
        print(f"== {backend}: per reading {per_reading(backend)}")
        for k, v in lines.items():
            print(f"  {k:34s} ${v:9.4f}")
        print(f"  {'backend total':34s} ${total:9.4f}")
    print()
    print("| backend | 0 viewers | 10 | 100 | 1,000 |")
    print("|---|---|---|---|---|")
    for backend in BACKENDS:
        cells = []
        for n in (0, 10, 100, 1000):
            _, b, v = monthly(backend, *args, n, *extra)
            cells.append(f"${b + v:,.2f}")
        print(f"| {backend} | " + " | ".join(cells) + " |")
    print(f"prices as of {PRICES_AS_OF}; Timestream for InfluxDB at ${a.influx_hourly}/h")


if __name__ == "__main__":
    main()
