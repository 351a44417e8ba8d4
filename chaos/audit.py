"""Chaos-suite audit: reads a hourglass bucket (a local directory) with fastavro only, sharing no code with hourglass, and checks the promises.

Usage: python chaos/audit.py --bucket DIR --records FILE --malformed FILE --window-s N [--out report.json]

  --records    JSON lines: {"p": publisher, "t": type, "f": first seq, "n": count} for every range whose
               publish() resolved (SDK publishers), and {"g": [event ids], "t": type, "s": scope} for every
               gateway request answered 2xx (scope: the client its token names; ids are delivered "<scope>:<id>").
  --malformed  JSON lines: {"id": Pub/Sub message id, "t": topic type, "kind": …} for every malformed
               message the suite published.

Promises checked (each broken one is listed under "broken" and makes the exit code 1):
  lost             every resolved event is in exactly one closed window of its type, or in the late area
  lost in transport  (reported apart) resolved events Pub/Sub had (--tapped) that no worker ever staged
                   (--staged): Pub/Sub did not deliver or redeliver them; hourglass never held them
  duplicates       no (publisher, seq) twice across closed windows and late files; no event id twice in a window
  manifests        every closed window has _SUCCESS; its manifest lists exactly its part files, with the
                   right sizes, SHA-256 and counts; per-publisher ranges match the records; every record's
                   receive time is inside the window; late manifests likewise
  dead letters     every dead-lettered message is one the suite made malformed, and every malformed one
                   was dead-lettered
  closed           nothing is left in staging (every window that received events was closed)
  lost alerts      events a manifest reports lost (closed after the max wait with gaps) must be nowhere else
                   to count as lost; those that arrived afterwards (late area) are listed as warnings
  content          SDK records carry user_id "chaos-<seq>"; gateway records (user_id "gw-…") carry event_id
                   "<scope>:<user_id>", scoped by the client that sent them
"""
import argparse
import datetime
import glob
import hashlib
import json
import os
import sys

import fastavro

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
RESERVED_TOP = {"staging", "late", "deadletter", "checker", ".hourglass-tmp"}


def micros(value):
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return (value - EPOCH) // datetime.timedelta(microseconds=1)
    return int(value)


def iso_micros(text):
    return micros(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_avro(path):
    with open(path, "rb") as f:
        return list(fastavro.reader(f))


def quantile(values, q):
    if not values:
        return None
    s = sorted(values)
    import math
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bucket", required=True)
    ap.add_argument("--records", required=True)
    ap.add_argument("--malformed", required=True)
    ap.add_argument("--window-s", type=int, required=True)
    ap.add_argument("--out")
    ap.add_argument("--tapped", help="JSON lines of messages an extra subscription saw (where a lost event was lost)")
    ap.add_argument("--leftover", help="JSON lines of messages still in the worker subscriptions after the run")
    ap.add_argument("--staged", help="folder of staging manifests copied while the run went on")
    a = ap.parse_args()
    root = os.path.abspath(a.bucket)
    broken = {}
    warnings = []

    def warn(message):
        if len(warnings) < 50:
            warnings.append(message)

    def fail(kind, message):
        broken.setdefault(kind, [])
        if len(broken[kind]) < 50:
            broken[kind].append(message)
        else:
            broken[kind][-1] = f"… and more ({message})"

    # --- What the suite knows was accepted.
    resolved = {}  # (type, publisher) -> set of seqs
    gateway_ids = {}  # type -> set of delivered (scoped) event ids
    gateway_scopes = set()
    sdk_publishers = set()
    with open(a.records) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            r = json.loads(line)
            if "g" in r:
                if not r.get("s"):
                    fail("content", f"gateway record without its client's scope: {line[:200]}")
                gateway_scopes.add(r.get("s"))
                gateway_ids.setdefault(r["t"], set()).update(f"{r.get('s')}:{i}" for i in r["g"])
            else:
                sdk_publishers.add(r["p"])
                resolved.setdefault((r["t"], r["p"]), set()).update(range(r["f"], r["f"] + r["n"]))
    malformed = {}
    with open(a.malformed) as f:
        for line in f:
            line = line.strip()
            if line:
                m = json.loads(line)
                malformed[m["id"]] = m

    # --- Closed windows.
    found = {}  # (type, publisher, seq) -> list of places
    ids_in_window = {}  # (type, window start) -> {event id: count}
    gateway_seen = {}  # type -> {event id: count}
    closed_windows = 0
    complete_windows = 0
    incomplete = []
    delays = []
    delivered = 0
    dup_dropped = 0
    lost_reported = 0
    abandoned_reported = 0
    lost_alerts = []  # (window, type, publisher, boundBy, from, to) as the manifests report them
    types = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and d not in RESERVED_TOP)

    def check_records(records, type_, start_us, end_us, place, window_key):
        for r in records:
            rt = micros(r["receive_time"])
            if not (start_us <= rt < end_us):
                fail("manifests", f"{place}: record {r['publisher']}/{r['seq']} received at {rt} is outside [{start_us}, {end_us})")
            key = (type_, r["publisher"], r["seq"])
            found.setdefault(key, []).append(place)
            if window_key is not None:
                ids = ids_in_window.setdefault(window_key, {})
                ids[r["event_id"]] = ids.get(r["event_id"], 0) + 1
            if r["publisher"] in sdk_publishers and r.get("user_id") != f"chaos-{r['seq']}":
                fail("content", f"{place}: {r['publisher']}/{r['seq']} has user_id {r.get('user_id')!r}")
            if type_ in gateway_ids and str(r.get("user_id", "")).startswith("gw-"):
                # The one client's scope, then the id it sent (its user_id): nothing else is a gateway event id.
                if len(gateway_scopes) != 1 or r["event_id"] != f"{next(iter(gateway_scopes))}:{r['user_id']}":
                    fail("content", f"{place}: gateway event {r['event_id']} has user_id {r.get('user_id')!r} (scopes {sorted(gateway_scopes)})")
                seen = gateway_seen.setdefault(type_, {})
                seen[r["event_id"]] = seen.get(r["event_id"], 0) + 1

    for type_ in types:
        for manifest_path in sorted(glob.glob(os.path.join(root, type_, "dt=*", "**", "_MANIFEST.json"), recursive=True)):
            d = os.path.dirname(manifest_path)
            rel = os.path.relpath(d, root)
            m = json.load(open(manifest_path))
            closed_windows += 1
            if m["status"] == "complete":
                complete_windows += 1
            else:
                incomplete.append({"window": rel, "reason": m.get("reason"), "lost": m.get("lostEvents"), "abandoned": m.get("abandonedEvents")})
            delays.append(m["closeDelayMs"] / 1000)
            lost_reported += m.get("lostEvents", 0)
            abandoned_reported += m.get("abandonedEvents", 0)
            dup_dropped += m["duplicatesDropped"]["redelivered"] + m["duplicatesDropped"]["clientRetries"]
            for p in m["publishers"]:
                for lo, hi in p["lost"]:
                    lost_alerts.append((rel, type_, p["publisher"], p["boundBy"], lo, hi))
            if m["type"] != type_ or m["windowS"] != a.window_s:
                fail("manifests", f"{rel}: manifest type/windowS {m['type']}/{m['windowS']} do not match")
            success = os.path.join(d, "_SUCCESS")
            if not os.path.exists(success):
                fail("manifests", f"{rel}: _MANIFEST.json without _SUCCESS")
            else:
                s = json.load(open(success))
                if s.get("manifestAttempt") != m["attempt"]:
                    fail("manifests", f"{rel}: _SUCCESS names attempt {s.get('manifestAttempt')}, manifest {m['attempt']}")
            listed = {f["name"]: f for f in m["files"]}
            present = {n for n in os.listdir(d) if n.endswith(".avro")}
            if present != set(listed):
                fail("manifests", f"{rel}: part files {sorted(present)} differ from the manifest's {sorted(listed)}")
            start_us, end_us = iso_micros(m["windowStart"]), iso_micros(m["windowEnd"])
            if end_us - start_us != a.window_s * 1_000_000:
                fail("manifests", f"{rel}: window {m['windowStart']}..{m['windowEnd']} is not {a.window_s} s")
            window_records = []
            for name, f in listed.items():
                path = os.path.join(d, name)
                if not os.path.exists(path):
                    fail("manifests", f"{rel}/{name}: listed but missing")
                    continue
                if os.path.getsize(path) != f["bytes"] or sha256(path) != f["sha256"]:
                    fail("manifests", f"{rel}/{name}: size or SHA-256 differs from the manifest")
                records = read_avro(path)
                if len(records) != f["events"]:
                    fail("manifests", f"{rel}/{name}: {len(records)} records, manifest says {f['events']}")
                window_records.extend(records)
            if len(window_records) != m["events"]:
                fail("manifests", f"{rel}: {len(window_records)} records, manifest says {m['events']}")
            by_publisher = {}
            for r in window_records:
                by_publisher.setdefault(r["publisher"], set()).add(r["seq"])
            for p in m["publishers"]:
                seqs = set()
                for lo, hi in p["ranges"]:
                    seqs.update(range(lo, hi))
                if seqs != by_publisher.get(p["publisher"], set()):
                    fail("manifests", f"{rel}: ranges of {p['publisher']} do not match its records")
                if p["events"] != len(seqs):
                    fail("manifests", f"{rel}: events of {p['publisher']} ({p['events']}) do not match its ranges")
            unlisted = set(by_publisher) - {p["publisher"] for p in m["publishers"]}
            if unlisted:
                fail("manifests", f"{rel}: records of publishers the manifest does not name: {sorted(unlisted)[:5]}")
            delivered += len(window_records)
            check_records(window_records, type_, start_us, end_us, rel, (type_, start_us))

    # --- Late area: every late file, listed by a late manifest or not.
    late_events = 0
    late_dropped = 0
    late_root = os.path.join(root, "late")
    for type_dir in sorted(glob.glob(os.path.join(late_root, "*"))):
        type_ = os.path.basename(type_dir)
        for d in sorted({os.path.dirname(p) for p in glob.glob(os.path.join(type_dir, "**", "*"), recursive=True) if os.path.isfile(p)}):
            rel = os.path.relpath(d, root)
            listed = {}
            for mp in glob.glob(os.path.join(d, "late-*.manifest.json")):
                lm = json.load(open(mp))
                late_dropped += lm.get("duplicatesDropped", 0)
                for f in lm["files"]:
                    listed[f["name"]] = (f, lm)
            closed_dir = os.path.join(root, type_, os.path.relpath(d, type_dir))
            if not os.path.exists(os.path.join(closed_dir, "_SUCCESS")):
                fail("manifests", f"{rel}: late events for a window that is not closed")
            for name in sorted(n for n in os.listdir(d) if n.endswith(".avro")):
                path = os.path.join(d, name)
                records = read_avro(path)
                if name not in listed:
                    fail("manifests", f"{rel}/{name}: late file no late manifest lists ({len(records)} events)")
                else:
                    f, lm = listed[name]
                    if os.path.getsize(path) != f["bytes"] or sha256(path) != f["sha256"] or len(records) != f["events"]:
                        fail("manifests", f"{rel}/{name}: size, SHA-256 or count differs from its late manifest")
                    start_us = lm["window"] * lm["windowS"] * 1_000_000
                    check_records(records, type_, start_us, start_us + lm["windowS"] * 1_000_000, rel, None)
                    late_events += len(records)
                    continue
                late_events += len(records)
                for r in records:
                    found.setdefault((type_, r["publisher"], r["seq"]), []).append(rel)
            for name in listed:
                if not os.path.exists(os.path.join(d, name)):
                    fail("manifests", f"{rel}/{name}: listed by a late manifest but missing")

    # --- Dead letters.
    dead = {}
    for path in glob.glob(os.path.join(root, "deadletter", "**", "*.json"), recursive=True):
        rec = json.load(open(path))
        dead[rec["messageId"]] = rec
    for mid, rec in dead.items():
        if mid not in malformed:
            fail("dead letters", f"message {mid} ({rec['reason']}: {rec['detail'][:200]}) was dead-lettered but the suite did not make it malformed")
    for mid, m in malformed.items():
        if mid not in dead:
            fail("dead letters", f"malformed message {mid} ({m.get('kind')}) was not dead-lettered")
    reasons = {}
    for rec in dead.values():
        reasons[rec["reason"]] = reasons.get(rec["reason"], 0) + 1

    # --- Staging must be empty: every window that received events was closed.
    leftover_staging = [os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "staging", "**", "*"), recursive=True) if os.path.isfile(p)]
    if leftover_staging:
        fail("closed", f"{len(leftover_staging)} objects left in staging, e.g. {leftover_staging[:5]}")

    # --- Duplicates and loss.
    duplicates = 0
    for key, places in found.items():
        if len(places) > 1:
            duplicates += len(places) - 1
            fail("duplicates", f"{key[0]} {key[1]}/{key[2]} is in {places}")
    for (window_key, ids) in ids_in_window.items():
        for event_id, n in ids.items():
            if n > 1:
                fail("duplicates", f"event id {event_id} is {n} times in {window_key[0]} window starting {window_key[1]}")
    lost = []
    lost_trace = []
    lost_in_transport = []
    published = 0
    for (type_, publisher), seqs in resolved.items():
        published += len(seqs)
        for seq in seqs:
            if (type_, publisher, seq) not in found:
                lost.append((type_, publisher, seq))
    gateway_published = 0
    gateway_cross_window = 0
    for type_, ids in gateway_ids.items():
        gateway_published += len(ids)
        seen = gateway_seen.get(type_, {})
        for event_id in ids:
            if event_id not in seen:
                lost.append((type_, "gateway", event_id))
            elif seen[event_id] > 1:
                gateway_cross_window += seen[event_id] - 1
    # Where were lost events last seen? In Pub/Sub (the tap's subscription), in staging (the witness)?
    def ranges_from_lines(path):
        out = {}
        if path and os.path.exists(path):
            with open(path) as f:
                for line in f:
                    if line.strip():
                        r = json.loads(line)
                        if r.get("p") and r.get("t") and isinstance(r.get("f"), int) and isinstance(r.get("n"), int):
                            out.setdefault((r["t"], r["p"]), []).append((r["f"], r["f"] + r["n"]))
        return out
    tapped = ranges_from_lines(a.tapped)
    leftover = ranges_from_lines(a.leftover)
    staged = {}
    if a.staged and os.path.isdir(a.staged):
        for name in os.listdir(a.staged):
            sm = json.load(open(os.path.join(a.staged, name)))
            for msg in sm["messages"]:
                staged.setdefault((sm["type"], msg["publisher"]), []).append((msg["firstSeq"], msg["firstSeq"] + msg["count"], sm["file"], sm["window"]))
    def seen_in(index, t, p, s):
        return [x for x in index.get((t, p), []) if x[0] <= s < x[1]]
    closed_staging = set()
    for mp in glob.glob(os.path.join(root, "*", "dt=*", "**", "_MANIFEST.json"), recursive=True):
        closed_staging.update(json.load(open(mp)).get("stagingFiles", []))
    late_staging = {}
    for mp in glob.glob(os.path.join(root, "late", "**", "late-*.manifest.json"), recursive=True):
        lm = json.load(open(mp))
        late_staging[lm["stagingFile"]] = os.path.relpath(mp, root)
    for t, p, s in lost[:200]:
        if p == "gateway":
            continue
        lost_trace.append({"type": t, "publisher": p, "seq": s, "tapped_messages": len(seen_in(tapped, t, p, s)), "still_in_subscription": len(seen_in(leftover, t, p, s)),
                           "staged_in": [{"file": x[2], "window": x[3], "in_closed_manifest": x[2] in closed_staging, "late_manifest": late_staging.get(x[2])} for x in seen_in(staged, t, p, s)]})
    report_leftover = sum(len(v) for v in leftover.values())
    # A lost event that Pub/Sub had (the tap's own subscription got it) but that no worker ever staged
    # was not delivered, or not redelivered, by Pub/Sub to a live worker: a worker acknowledges a
    # message only once the staging file holding it is durable, so hourglass never had it. Those are
    # reported apart ("lost in transport"), so that an emulator fault is not read as a hourglass bug.
    in_transport = {(x["type"], x["publisher"], x["seq"]) for x in lost_trace if x["tapped_messages"] > 0 and not x["staged_in"]}
    if len(lost) > len(lost_trace) + sum(1 for t, p, s in lost if p == "gateway"):
        in_transport = set()  # the trace is partial: do not split
    lost_in_transport = [x for x in lost if (x[0], x[1], x[2]) in in_transport]
    lost = [x for x in lost if (x[0], x[1], x[2]) not in in_transport]
    if lost_in_transport:
        by = {}
        for t, p, s in lost_in_transport:
            by.setdefault((t, p), []).append(s)
        for (t, p), seqs in list(by.items())[:20]:
            fail("lost in transport", f"{len(seqs)} resolved events of {t} from {p} reached Pub/Sub (an independent subscription got them) but no worker ever staged them, e.g. {sorted(seqs)[:10]}")
    if lost:
        by = {}
        for t, p, s in lost:
            by.setdefault((t, p), []).append(s)
        for (t, p), seqs in list(by.items())[:20]:
            fail("lost", f"{len(seqs)} resolved events of {t} from {p} are nowhere, e.g. {sorted(seqs, key=str)[:10]}")

    # Lost alerts: a manifest that closed after the max wait names what was missing then. If those events
    # arrived afterwards they are in the late area (the alert was premature); if they are nowhere, they are lost.
    alerts_arrived_late = 0
    alerts_nowhere = 0
    for rel, type_, publisher, bound_by, lo, hi in lost_alerts:
        nowhere = [s for s in range(lo, hi) if (type_, publisher, s) not in found]
        alerts_arrived_late += (hi - lo) - len(nowhere)
        alerts_nowhere += len(nowhere)
        if nowhere and not all((type_, publisher, x) in in_transport for x in nowhere):
            fail("lost", f"{rel}: the manifest reports {publisher} seqs {lo}..{hi - 1} lost (bound by {bound_by}); {len(nowhere)} of them are nowhere")
        elif nowhere:
            warn(f"{rel}: the manifest reports {publisher} seqs {lo}..{hi - 1} lost (bound by {bound_by}); right: Pub/Sub never delivered them (lost in transport)")
        else:
            warn(f"{rel}: the manifest reports {publisher} seqs {lo}..{hi - 1} lost (bound by {bound_by}); all of them arrived later, in the late area")

    report = {
        "published_resolved": published + gateway_published,
        "published_sdk": published,
        "published_gateway": gateway_published,
        "delivered_closed": delivered,
        "late": late_events,
        "dead_lettered": len(dead),
        "dead_letter_reasons": reasons,
        "malformed_sent": len(malformed),
        "duplicates_removed": dup_dropped + late_dropped,
        "gateway_client_retries_across_windows": gateway_cross_window,
        "duplicates_found": duplicates,
        "lost": len(lost),
        "lost_in_transport": len(lost_in_transport),
        "windows_closed": closed_windows,
        "windows_complete": complete_windows,
        "windows_incomplete": incomplete,
        "lost_reported_by_manifests": lost_reported,
        "lost_reported_then_arrived_late": alerts_arrived_late,
        "lost_reported_and_nowhere": alerts_nowhere,
        "abandoned_reported_by_manifests": abandoned_reported,
        "close_delay_s": {
            "p50": quantile(delays, 0.5),
            "p99": quantile(delays, 0.99),
            "max": max(delays) if delays else None,
        },
        "staging_left": len(leftover_staging),
        "messages_left_in_worker_subscriptions": report_leftover,
        "broken": broken,
        "warnings": warnings,
        "lost_trace": lost_trace if lost else [],
    }
    text = json.dumps(report, indent=2)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    print(text)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
