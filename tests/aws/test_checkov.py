"""checkov (`--framework cloudformation`) over infra/template.yaml: every check passes or is
skipped in the template itself (a resource's `Metadata.checkov.skip`, each with its reason), and
only the skips reviewed here are allowed. The same scan of a weakened copy fails, so the scan is
live. Run by tests/aws/check-template.sh, which installs the pinned checkov
(tests/helm/install-checkov.sh) and passes its path in CHECKOV."""

import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "infra" / "template.yaml"

# (check, resource) skipped on purpose; the reasons are in the template next to each resource.
REVIEWED_SKIPS = {
    ("CKV_AWS_27", "AWS::SQS::Queue.FailureQueue"),            # SSE-SQS is on; check wants KMS
    *{("CKV_AWS_158", f"AWS::Logs::LogGroup.{g}")               # log groups: no CMK
      for g in ("PumpLogs", "Co2Logs", "ArchiveLogs")},
    *{(c, f"AWS::Serverless::Function.{f}")                     # DLQ = on-failure destination,
      for c in ("CKV_AWS_116", "CKV_AWS_117", "CKV_AWS_173")    # no VPC, no env CMK
      for f in ("PumpFunction", "Co2Function", "ArchiveFunction")},
    ("CKV_AWS_18", "AWS::S3::Bucket.ArchiveBucket"),            # no access-log bucket
    ("CKV_AWS_18", "AWS::S3::Bucket.SiteBucket"),
    ("CKV_AWS_366", "AWS::Cognito::IdentityPool.IdentityPool"),  # public read-only dashboard
    ("CKV_AWS_68", "AWS::CloudFront::Distribution.SiteDistribution"),   # no WAF
    ("CKV_AWS_86", "AWS::CloudFront::Distribution.SiteDistribution"),   # no access logs
    ("CKV_AWS_174", "AWS::CloudFront::Distribution.SiteDistribution"),  # default certificate
}


def run_checkov(path):
    checkov = os.environ.get("CHECKOV")
    assert checkov, "set CHECKOV to the checkov executable (tests/aws/check-template.sh does)"
    proc = subprocess.run(
        [checkov, "-f", str(path), "--framework", "cloudformation", "--output", "json",
         "--skip-download"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.stdout.strip(), proc.stderr
    report = json.loads(proc.stdout)
    report = report[0] if isinstance(report, list) else report
    results = report["results"]
    ids = {k: {(c["check_id"], c["resource"]) for c in results.get(k, [])}
           for k in ("passed_checks", "failed_checks", "skipped_checks")}
    return ids, results


def test_template_is_clean_with_only_reviewed_reasoned_skips():
    ids, results = run_checkov(TEMPLATE)
    assert ids["failed_checks"] == set(), sorted(ids["failed_checks"])
    assert ids["skipped_checks"] == REVIEWED_SKIPS
    for c in results["skipped_checks"]:
        reason = (c.get("check_result") or {}).get("suppress_comment", "")
        assert len(reason) > 40, (c["check_id"], c["resource"], reason)
    assert len(ids["passed_checks"]) >= 40


def test_a_weakened_template_fails_the_scan(tmp_path):
    text = TEMPLATE.read_text()
    # The archive bucket without its public access block: checkov must notice.
    start = text.index("  ArchiveBucket:\n")
    block = text.index("      PublicAccessBlockConfiguration:\n", start)
    end = text.index("      OwnershipControls:\n", block)
    weakened = tmp_path / "template.yaml"
    weakened.write_text(text[:block] + text[end:])
    ids, _ = run_checkov(weakened)
    failed = {c for c, r in ids["failed_checks"] if r == "AWS::S3::Bucket.ArchiveBucket"}
    assert {"CKV_AWS_53", "CKV_AWS_54", "CKV_AWS_55", "CKV_AWS_56"} <= failed, failed
