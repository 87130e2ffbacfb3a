#!/usr/bin/env python3
"""Application-event NDJSON lines for the tracktail benchmark.

Each line is one JSON object of about 390 bytes, shaped like a web application's structured
log (the fields Benchmarks/tracktail.toml maps: ts, event, user.id, user.email, account,
device, props), for example:

  {"ts":"2025-03-04T09:12:00.118Z","level":"info","event":"feature_used",
   "user":{"id":"u_041877","email":"mila.ortiz41877@example.com"},"account":"acc_0917",
   "device":"desktop","props":{"feature_name":"bulk_export","plan":"team","count":4,"seq":12},
   "http":{"route":"/v2/features/use","status":200,"ms":38},
   "trace":"4c1f0a9b22e3","msg":"..."}

`props.seq` is the line's number (0, 1, 2, ... in file order): the sink counts lost and
duplicated events by it. The same seed gives the same bytes.

  lines.py 1000000 -o backlog.ndjson [--seed 7]     write N lines, print a summary
"""
import argparse
import json
import random
import sys
import time

KINDS = (  # (event, weight)
    ("feature_used", 50), ("invite_sent", 14), ("signed_up", 14),
    ("user_waitlisted", 12), ("subscription_upgraded", 6), ("report_exported", 4),
)
NAMES = ("mila.ortiz", "arjun.rao", "lena.vogel", "tomas.novak", "aiko.sato", "grace.hill",
         "omar.haddad", "chen.wei", "nora.berg", "diego.ruiz", "ines.costa", "sam.okafor")
DOMAINS = ("example.com", "example.org", "mail.example.net")
FEATURES = ("bulk_export", "saved_views", "sso_setup", "audit_trail", "api_tokens", "webhooks",
            "custom_fields", "dashboard_share", "slack_alerts", "csv_import")
PLANS = ("free", "starter", "team", "business")
DEVICES = ("desktop", "desktop", "desktop", "mobile", "mobile", "tablet")
ROLES = ("viewer", "editor", "admin")
CHANNELS = ("organic", "ads", "partner", "newsletter", "referral")
COUNTRIES = ("US", "DE", "IN", "BR", "JP", "FR", "GB", "NG", "CA", "AU")
LEVELS = ("info",) * 8 + ("debug", "warn")
ROUTES = {"feature_used": ("/v2/features/use", 200),
          "invite_sent": ("/v2/invites", 201),
          "signed_up": ("/v2/signup", 201),
          "user_waitlisted": ("/v2/waitlist", 202),
          "subscription_upgraded": ("/v2/subscription", 200),
          "report_exported": ("/v2/reports/export", 200)}
START_MS = 1741079520000  # 2025-03-04T09:12:00Z
VERSION = 1  # bump when the lines change, so that cached backlogs are written again


class Lines:
    """Builds line `seq` from a seeded generator; call `line` with seq = 0, 1, 2, ... in order."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        kinds, weights = zip(*KINDS)
        self.kinds = kinds
        self.cum = []
        total = 0
        for w in weights:
            total += w
            self.cum.append(total)
        self.total = total

    def pick_kind(self):
        x = self.rng.random() * self.total
        for kind, edge in zip(self.kinds, self.cum):
            if x < edge:
                return kind
        return self.kinds[-1]

    def line(self, seq, ts):
        r = self.rng
        kind = self.pick_kind()
        uid = r.randrange(1, 90000)
        who = NAMES[uid % len(NAMES)]
        email = f"{who}{uid}@{DOMAINS[uid % 3]}"
        account = f"acc_{uid % 1500:04d}"
        plan = PLANS[uid % 4]
        if kind == "feature_used":
            feature = FEATURES[r.randrange(len(FEATURES))]
            count = r.randrange(1, 30)
            props = f'"feature_name":"{feature}","plan":"{plan}","count":{count}'
            msg = f"{who} used {feature} {count}x in {account}"
        elif kind == "invite_sent":
            guest = f"{NAMES[r.randrange(len(NAMES))]}{r.randrange(1, 90000)}@{DOMAINS[r.randrange(3)]}"
            role = ROLES[r.randrange(3)]
            props = f'"invitee_email":"{guest}","invitee_role":"{role}"'
            msg = f"{who} invited {guest} to {account} as {role}"
        elif kind == "signed_up":
            channel = CHANNELS[r.randrange(len(CHANNELS))]
            country = COUNTRIES[r.randrange(len(COUNTRIES))]
            props = f'"channel":"{channel}","country":"{country}","plan":"{plan}"'
            msg = f"new account {account} signed up from {country} via {channel}"
        elif kind == "user_waitlisted":
            position = r.randrange(1, 25000)
            props = f'"position":{position},"channel":"{CHANNELS[r.randrange(len(CHANNELS))]}"'
            msg = f"{email} joined the waitlist at position {position}"
        elif kind == "subscription_upgraded":
            step = r.randrange(3)
            cents = (1900, 4900, 9900)[step]
            props = f'"from_plan":"{PLANS[step]}","to_plan":"{PLANS[step + 1]}","mrr_cents":{cents}'
            msg = f"{account} moved from {PLANS[step]} to {PLANS[step + 1]}, +{cents} cents MRR"
        else:
            rows = r.randrange(10, 50000)
            props = f'"format":"csv","rows":{rows}'
            msg = f"{who} exported {rows} rows from {account}"
        route, status = ROUTES[kind]
        return (f'{{"ts":"{ts}","level":"{LEVELS[r.randrange(10)]}",'
                f'"event":"{kind}","user":{{"id":"u_{uid:06d}","email":"{email}"}},'
                f'"account":"{account}","device":"{DEVICES[r.randrange(6)]}",'
                f'"props":{{{props},"seq":{seq}}},'
                f'"http":{{"route":"{route}","status":{status},"ms":{r.randrange(2, 400)}}},'
                f'"trace":"{r.getrandbits(48):012x}","msg":"{msg}"}}\n')


class Clock:
    """ISO-8601 UTC text with milliseconds, reformatting the date part only when the second changes."""

    def __init__(self):
        self.second = None
        self.prefix = ""

    def text(self, epoch_ms):
        second, ms = divmod(epoch_ms, 1000)
        if second != self.second:
            self.second = second
            self.prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self.prefix}.{ms:03d}Z"


def write_backlog(path, count, seed=7):
    """Writes `count` lines (seq 0..count-1, timestamps 0-39 ms apart) to `path`; returns bytes."""
    lines = Lines(seed)
    clock = Clock()
    steps = random.Random(seed ^ 0x5EED)
    now_ms = START_MS
    written = 0
    with open(path, "w", encoding="ascii", newline="\n") as out:
        chunk = []
        for seq in range(count):
            now_ms += steps.randrange(40)
            chunk.append(lines.line(seq, clock.text(now_ms)))
            if len(chunk) == 10000:
                text = "".join(chunk)
                out.write(text)
                written += len(text)
                chunk = []
        text = "".join(chunk)
        out.write(text)
        written += len(text)
    return written


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("count", type=int)
    ap.add_argument("-o", "--output", required=True)
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    began = time.monotonic()
    size = write_backlog(a.output, a.count, a.seed)
    print(json.dumps({"lines": a.count, "bytes": size, "bytes_per_line": round(size / max(a.count, 1), 1),
                      "seconds": round(time.monotonic() - began, 2), "output": a.output}))


if __name__ == "__main__":
    sys.exit(main())
