"""What a Tern app printed at exit, for the interop scripts' checks.

total_counters(log): the "--- tern counters (total ...)" block as a dict.
app_reports(log, prefix): the apps' per-worker report lines that start with
`prefix` ("echo worker ", "echo client "), each as a dict of its
"name value" pairs.
"""
import re


def total_counters(log):
    total = log[log.index("--- tern counters"):]
    total = total[:total.index("--- worker")]
    return {k: int(v) for k, v in re.findall(r"^(\S+) (\d+)$", total, re.M)}


def app_reports(log, prefix):
    return [dict((k, int(v)) for k, v in re.findall(r"(\w+) (\d+)", line.split(":", 1)[1]))
            for line in log.splitlines() if line.startswith(prefix)]
