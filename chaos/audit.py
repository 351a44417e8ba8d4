"""Chaos-suite audit: reads a hourglass bucket with fastavro only, sharing no code with hourglass, and checks every promise. It excuses nothing.

Usage: python chaos/audit.py (--bucket DIR | --gcs-endpoint URL --gcs-bucket NAME) --records FILE --malformed FILE
                             --window-s N --types a,b,c --run-from-us T --run-to-us T [--publishers FILE]
                             --discovery-margin-ms MS [--leftover FILE] [--tapped FILE] [--staged DIR] [--out report.json]

  --records     JSON lines: {"p": publisher, "t": type, "f": first seq, "n": count} for every range whose
                publish() resolved (SDK publishers), and {"g": [event ids], "t": type, "s": scope} for every
                gateway request answered 2xx (scope: the client its token names; ids are delivered "<scope>:<id>").
  --malformed   JSON lines: {"id": Pub/Sub message id, "t": topic type, "kind": …} per malformed message sent.
  --publishers  JSON lines: {"publisher", "startedAtMs", "offsetS"} per SDK publisher process the suite ran
                (offsetS: how far its clock was set off the real one).
  --discovery-margin-ms   the checkers' HOURGLASS_DISCOVERY_MARGIN_MS (run-chaos.ts passes theirs): an unnamed publisher's late
                events are explained only if it started later than that past the window's end.
  --leftover    JSON lines: {"p","t","f","n"} per message still in a worker subscription after the run.
  --run-from-us / --run-to-us   the pipeline's first and last moment of load: every window of every type
                between them must be closed.
  --tapped, --staged   diagnostics only (where a missing event was last seen); they never excuse anything.
  --gcs-endpoint, --gcs-bucket  read a Cloud Storage bucket (fake-gcs-server) through its JSON API: it is
                mirrored into a temporary folder first (chaos/bucket_mirror.py), then audited like a folder.

Promises checked (each broken one is listed under "broken" and makes the exit code 1):
  lost             every resolved event is in exactly one closed window of its type, or in the late area.
                   A missing event is a failure, whatever the reason (an emulator fault included); the only
                   place it may be instead is a subscription at the end, and then "drained" fails.
  drained          nothing is left in any worker subscription after the run.
  open windows     every window of every type in the run is closed (_SUCCESS); an open one is named with
                   what the checkers say it waits on.
  late in complete a window closed "complete" that later received a resolved event in late/ must explain it
                   in its proof: the publisher was bound as dead or lagging, or the seq is abandoned or lost
                   in the proof; or the publisher did not exist yet when the window closed (its clock was
                   set behind). Anything else means the proof was wrong.
  duplicates       no (publisher, seq) twice across closed windows and late files; no event id twice in a window.
  manifests        every closed window has _SUCCESS; its manifest lists exactly its part files, with the right
                   sizes, SHA-256 and counts; per-publisher ranges match the records; every record's receive
                   time is inside the window; late manifests likewise.
  dead letters     every dead-lettered message is one the suite made malformed, and every malformed one was
                   dead-lettered.
  closed           nothing is left in staging.
  content          SDK records carry user_id "chaos-<seq>-<tag>", the tag being the start of the SHA-256 of the
                   drawn text field as delivered (byte-exact delivery); gateway records (user_id "gw-…")
                   carry event_id "<scope>:<user_id>", scoped by the client that sent them.
"""
import argparse
import datetime
import glob
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile

import fastavro

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
RESERVED_TOP = {"staging", "late", "deadletter", "checker", ".hourglass-tmp"}
# The field of each type whose text the chaos publishers draw from the seed (chaos/payloads.ts).
DRAWN_FIELD = {"track_played": "track_id", "search_performed": "query", "ui_interaction": "view"}


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


def read_lines(path):
    out = []
    if path and os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line:
                    out.append(json.loads(line))
    return out


def quantile(values, q):
    if not values:
        return None
    s = sorted(values)
    return s[min(len(s) - 1, max(0, math.ceil(q * len(s)) - 1))]


def in_ranges(ranges, seq):
    return any(lo <= seq < hi for lo, hi in ranges)


def window_dir(type_, start_us, window_s):
    """The closed window's folder, as the storage layout names it (dt=/hour=[/minute=[/second=]])."""
    d = datetime.datetime.fromtimestamp(start_us / 1e6, tz=datetime.timezone.utc)
    out = f"{type_}/dt={d:%Y-%m-%d}/hour={d:%H}"
    if window_s < 3600:
        out += f"/minute={d:%M}"
    if window_s < 60:
        out += f"/second={d:%S}"
    return out


class Findings:
    def __init__(self):
        self.broken = {}
        self.warnings = []

    def fail(self, kind, message):
        msgs = self.broken.setdefault(kind, [])
        if len(msgs) < 50:
            msgs.append(message)
        else:
            msgs[-1] = f"… and more ({message})"

    def warn(self, message):
        if len(self.warnings) < 50:
            self.warnings.append(message)


def audit(root, a):
    f = Findings()
    window_us = a.window_s * 1_000_000

    # --- What the suite knows was accepted.
    resolved = {}  # (type, publisher) -> set of seqs
    gateway_ids = {}  # type -> set of delivered (scoped) event ids
    gateway_scopes = set()
    for r in read_lines(a.records):
        if "g" in r:
            if not r.get("s"):
                f.fail("content", f"gateway record without its client's scope: {json.dumps(r)[:200]}")
            gateway_scopes.add(r.get("s"))
            gateway_ids.setdefault(r["t"], set()).update(f"{r.get('s')}:{i}" for i in r["g"])
        else:
            resolved.setdefault((r["t"], r["p"]), set()).update(range(r["f"], r["f"] + r["n"]))
    sdk_publishers = {p for _, p in resolved}
    publisher_info = {p["publisher"]: p for p in read_lines(a.publishers)}
    malformed = {m["id"]: m for m in read_lines(a.malformed)}

    # --- Closed windows.
    found = {}  # (type, publisher, seq) -> list of places
    late_found = {}  # (type, publisher, seq) -> (late folder, window start us)
    ids_in_window = {}  # (type, window start) -> {event id: count}
    gateway_seen = {}  # type -> {event id: count}
    manifests = {}  # (type, window start us) -> manifest
    closed_windows = complete_windows = delivered = dup_dropped = lost_reported = abandoned_reported = 0
    incomplete = []
    delays = []
    lost_alerts = []
    types = sorted(set(a.types.split(",")) | {d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)) and d not in RESERVED_TOP})

    def check_records(records, type_, start_us, end_us, place, window_key):
        for r in records:
            rt = micros(r["receive_time"])
            if not (start_us <= rt < end_us):
                f.fail("manifests", f"{place}: record {r['publisher']}/{r['seq']} received at {rt} is outside [{start_us}, {end_us})")
            found.setdefault((type_, r["publisher"], r["seq"]), []).append(place)
            if window_key is not None:
                ids = ids_in_window.setdefault(window_key, {})
                ids[r["event_id"]] = ids.get(r["event_id"], 0) + 1
            if r["publisher"] in sdk_publishers:
                text = r.get(DRAWN_FIELD.get(type_, ""), "")
                expected = f"chaos-{r['seq']}-{hashlib.sha256(text.encode('utf-8')).hexdigest()[:12]}"
                if r.get("user_id") != expected:
                    f.fail("content", f"{place}: {r['publisher']}/{r['seq']} has user_id {r.get('user_id')!r}, its {DRAWN_FIELD.get(type_)} says {expected!r}")
            if type_ in gateway_ids and str(r.get("user_id", "")).startswith("gw-"):
                # The one client's scope, then the id it sent (its user_id): nothing else is a gateway event id.
                if len(gateway_scopes) != 1 or r["event_id"] != f"{next(iter(gateway_scopes))}:{r['user_id']}":
                    f.fail("content", f"{place}: gateway event {r['event_id']} has user_id {r.get('user_id')!r} (scopes {sorted(gateway_scopes)})")
                seen = gateway_seen.setdefault(type_, {})
                seen[r["event_id"]] = seen.get(r["event_id"], 0) + 1

    for type_ in types:
        for manifest_path in sorted(glob.glob(os.path.join(root, type_, "dt=*", "**", "_MANIFEST.json"), recursive=True)):
            d = os.path.dirname(manifest_path)
            rel = os.path.relpath(d, root)
            m = json.load(open(manifest_path))
            start_us, end_us = iso_micros(m["windowStart"]), iso_micros(m["windowEnd"])
            manifests[(type_, start_us)] = m
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
                f.fail("manifests", f"{rel}: manifest type/windowS {m['type']}/{m['windowS']} do not match")
            success = os.path.join(d, "_SUCCESS")
            if not os.path.exists(success):
                f.fail("manifests", f"{rel}: _MANIFEST.json without _SUCCESS")
            else:
                s = json.load(open(success))
                if s.get("manifestAttempt") != m["attempt"]:
                    f.fail("manifests", f"{rel}: _SUCCESS names attempt {s.get('manifestAttempt')}, manifest {m['attempt']}")
            listed = {x["name"]: x for x in m["files"]}
            present = {n for n in os.listdir(d) if n.endswith(".avro")}
            if present != set(listed):
                f.fail("manifests", f"{rel}: part files {sorted(present)} differ from the manifest's {sorted(listed)}")
            if end_us - start_us != window_us:
                f.fail("manifests", f"{rel}: window {m['windowStart']}..{m['windowEnd']} is not {a.window_s} s")
            window_records = []
            for name, x in listed.items():
                path = os.path.join(d, name)
                if not os.path.exists(path):
                    f.fail("manifests", f"{rel}/{name}: listed but missing")
                    continue
                if os.path.getsize(path) != x["bytes"] or sha256(path) != x["sha256"]:
                    f.fail("manifests", f"{rel}/{name}: size or SHA-256 differs from the manifest")
                records = read_avro(path)
                if len(records) != x["events"]:
                    f.fail("manifests", f"{rel}/{name}: {len(records)} records, manifest says {x['events']}")
                window_records.extend(records)
            if len(window_records) != m["events"]:
                f.fail("manifests", f"{rel}: {len(window_records)} records, manifest says {m['events']}")
            by_publisher = {}
            for r in window_records:
                by_publisher.setdefault(r["publisher"], set()).add(r["seq"])
            for p in m["publishers"]:
                seqs = set()
                for lo, hi in p["ranges"]:
                    seqs.update(range(lo, hi))
                if seqs != by_publisher.get(p["publisher"], set()):
                    f.fail("manifests", f"{rel}: ranges of {p['publisher']} do not match its records")
                if p["events"] != len(seqs):
                    f.fail("manifests", f"{rel}: events of {p['publisher']} ({p['events']}) do not match its ranges")
            unlisted = set(by_publisher) - {p["publisher"] for p in m["publishers"]}
            if unlisted:
                f.fail("manifests", f"{rel}: records of publishers the manifest does not name: {sorted(unlisted)[:5]}")
            delivered += len(window_records)
            check_records(window_records, type_, start_us, end_us, rel, (type_, start_us))

    # --- Late area: every late file, listed by a late manifest or not.
    late_events = late_dropped = 0
    for type_dir in sorted(glob.glob(os.path.join(root, "late", "*"))):
        type_ = os.path.basename(type_dir)
        for d in sorted({os.path.dirname(p) for p in glob.glob(os.path.join(type_dir, "**", "*"), recursive=True) if os.path.isfile(p)}):
            rel = os.path.relpath(d, root)
            listed = {}
            for mp in glob.glob(os.path.join(d, "late-*.manifest.json")):
                lm = json.load(open(mp))
                late_dropped += lm.get("duplicatesDropped", 0)
                for x in lm["files"]:
                    listed[x["name"]] = (x, lm)
            closed_dir = os.path.join(root, type_, os.path.relpath(d, type_dir))
            if not os.path.exists(os.path.join(closed_dir, "_SUCCESS")):
                f.fail("manifests", f"{rel}: late events for a window that is not closed")
            for name in sorted(n for n in os.listdir(d) if n.endswith(".avro")):
                path = os.path.join(d, name)
                records = read_avro(path)
                late_events += len(records)
                if name not in listed:
                    f.fail("manifests", f"{rel}/{name}: late file no late manifest lists ({len(records)} events)")
                    for r in records:
                        found.setdefault((type_, r["publisher"], r["seq"]), []).append(rel)
                    continue
                x, lm = listed[name]
                if os.path.getsize(path) != x["bytes"] or sha256(path) != x["sha256"] or len(records) != x["events"]:
                    f.fail("manifests", f"{rel}/{name}: size, SHA-256 or count differs from its late manifest")
                start_us = lm["window"] * lm["windowS"] * 1_000_000
                check_records(records, type_, start_us, start_us + lm["windowS"] * 1_000_000, rel, None)
                for r in records:
                    late_found[(type_, r["publisher"], r["seq"])] = (rel, start_us)
            for name in listed:
                if not os.path.exists(os.path.join(d, name)):
                    f.fail("manifests", f"{rel}/{name}: listed by a late manifest but missing")

    # --- Dead letters: exactly the malformed messages.
    dead = {}
    for path in glob.glob(os.path.join(root, "deadletter", "**", "*.json"), recursive=True):
        rec = json.load(open(path))
        dead[rec["messageId"]] = rec
    for mid, rec in dead.items():
        if mid not in malformed:
            f.fail("dead letters", f"message {mid} ({rec['reason']}: {rec['detail'][:200]}) was dead-lettered but the suite did not make it malformed")
    for mid, m in malformed.items():
        if mid not in dead:
            f.fail("dead letters", f"malformed message {mid} ({m.get('kind')}) was not dead-lettered")
    reasons = {}
    for rec in dead.values():
        reasons[rec["reason"]] = reasons.get(rec["reason"], 0) + 1

    # --- Staging must be empty.
    leftover_staging = [os.path.relpath(p, root) for p in glob.glob(os.path.join(root, "staging", "**", "*"), recursive=True) if os.path.isfile(p)]
    if leftover_staging:
        f.fail("closed", f"{len(leftover_staging)} objects left in staging, e.g. {leftover_staging[:5]}")

    # --- Subscriptions must be drained.
    leftover = read_lines(a.leftover)
    leftover_ranges = {}
    for r in leftover:
        if isinstance(r.get("f"), int) and isinstance(r.get("n"), int):
            leftover_ranges.setdefault((r.get("t"), r.get("p")), []).append((r["f"], r["f"] + r["n"]))
    if leftover:
        f.fail("drained", f"{len(leftover)} messages were still in worker subscriptions after the run, e.g. {leftover[:3]}")

    # --- Every window of the run is closed.
    waiting = read_waiting_on(root)
    open_windows = []
    first, last = a.run_from_us // window_us, a.run_to_us // window_us
    for type_ in sorted(set(a.types.split(","))):
        for w in range(first, last + 1):
            start_us = w * window_us
            if not os.path.exists(os.path.join(root, window_dir(type_, start_us, a.window_s), "_SUCCESS")):
                why = waiting.get((type_, start_us), ["no checker reports this window"])
                open_windows.append({"type": type_, "window": window_dir(type_, start_us, a.window_s), "waitingOn": why})
                f.fail("open windows", f"{window_dir(type_, start_us, a.window_s)} is not closed; waits on: {'; '.join(why)[:400]}")

    # --- Duplicates.
    duplicates = 0
    for key, places in found.items():
        if len(places) > 1:
            duplicates += len(places) - 1
            f.fail("duplicates", f"{key[0]} {key[1]}/{key[2]} is in {places}")
    for window_key, ids in ids_in_window.items():
        for event_id, n in ids.items():
            if n > 1:
                f.fail("duplicates", f"event id {event_id} is {n} times in {window_key[0]} window starting {window_key[1]}")

    # --- Loss: a resolved event is in a closed window or the late area; in a subscription it is counted (and "drained" fails).
    lost, in_subscription = [], []
    published = 0
    for (type_, publisher), seqs in resolved.items():
        published += len(seqs)
        for seq in seqs:
            if (type_, publisher, seq) in found:
                continue
            if in_ranges(leftover_ranges.get((type_, publisher), []), seq):
                in_subscription.append((type_, publisher, seq))
            else:
                lost.append((type_, publisher, seq))
    gateway_published = gateway_cross_window = 0
    for type_, ids in gateway_ids.items():
        gateway_published += len(ids)
        seen = gateway_seen.get(type_, {})
        for event_id in ids:
            if event_id not in seen:
                lost.append((type_, "gateway", event_id))
            elif seen[event_id] > 1:
                gateway_cross_window += seen[event_id] - 1
    still_staged = staged_in_bucket(root)
    if lost:
        by = {}
        for t, p, s in lost:
            by.setdefault((t, p), []).append(s)
        for (t, p), seqs in list(by.items())[:20]:
            staged = [s for s in seqs if in_ranges(still_staged.get((t, p), []), s)]
            where = f"; {len(staged)} of them are still in staging, in windows that never closed" if staged else ""
            f.fail("lost", f"{len(seqs)} resolved events of {t} from {p} are in no closed window and not in the late area, e.g. {sorted(seqs, key=str)[:10]}{where}")
    lost_trace = trace_lost(lost, a) if lost else []

    # Lost alerts: a manifest that closed after the max wait names what was missing then; those events must be somewhere now.
    alerts_arrived_late = alerts_nowhere = 0
    for rel, type_, publisher, bound_by, lo, hi in lost_alerts:
        nowhere = [s for s in range(lo, hi) if (type_, publisher, s) not in found]
        alerts_arrived_late += (hi - lo) - len(nowhere)
        alerts_nowhere += len(nowhere)
        if nowhere:
            f.fail("lost", f"{rel}: the manifest reports {publisher} seqs {lo}..{hi - 1} lost (bound by {bound_by}); {len(nowhere)} of them are nowhere")
        else:
            f.warn(f"{rel}: the manifest reports {publisher} seqs {lo}..{hi - 1} lost (bound by {bound_by}); all of them arrived later, in the late area")

    # --- Late events in windows that closed complete must be explained by the proof.
    late_explained = {}
    for (type_, publisher, seq), (rel, start_us) in late_found.items():
        if publisher not in sdk_publishers or seq not in resolved.get((type_, publisher), ()):
            continue  # only events a producer saw acknowledged are held to this
        m = manifests.get((type_, start_us))
        if m is None or m["status"] != "complete":
            late_explained["window incomplete"] = late_explained.get("window incomplete", 0) + 1
            continue
        why = explain_late(m, publisher, seq, publisher_info.get(publisher), a.discovery_margin_ms)
        if why is None:
            proof = next((p for p in m["publishers"] if p["publisher"] == publisher), None)
            f.fail("late in complete", f"{rel}: {publisher}/{seq} arrived after the window closed complete, and its proof does not explain it (proof: {json.dumps(proof) if proof else 'the publisher is not named'}; closed at {m['closedAt']})")
        else:
            late_explained[why] = late_explained.get(why, 0) + 1

    return {
        "published_resolved": published + gateway_published,
        "published_sdk": published,
        "published_gateway": gateway_published,
        "delivered_closed": delivered,
        "late": late_events,
        "late_explained": late_explained,
        "dead_lettered": len(dead),
        "dead_letter_reasons": reasons,
        "malformed_sent": len(malformed),
        "duplicates_removed": dup_dropped + late_dropped,
        "gateway_client_retries_across_windows": gateway_cross_window,
        "duplicates_found": duplicates,
        "lost": len(lost),
        "in_subscription": len(in_subscription),
        "windows_closed": closed_windows,
        "windows_complete": complete_windows,
        "windows_incomplete": incomplete,
        "windows_open": open_windows,
        "lost_reported_by_manifests": lost_reported,
        "lost_reported_then_arrived_late": alerts_arrived_late,
        "lost_reported_and_nowhere": alerts_nowhere,
        "abandoned_reported_by_manifests": abandoned_reported,
        "close_delay_s": {"p50": quantile(delays, 0.5), "p99": quantile(delays, 0.99), "max": max(delays) if delays else None},
        "staging_left": len(leftover_staging),
        "messages_left_in_worker_subscriptions": len(leftover),
        "broken": f.broken,
        "warnings": f.warnings,
        "lost_trace": lost_trace,
    }


def explain_late(manifest, publisher, seq, info, discovery_margin_ms):
    """Why a resolved event of `publisher` may arrive after its window closed complete, per the window's proof; None if nothing explains it."""
    proof = next((p for p in manifest["publishers"] if p["publisher"] == publisher), None)
    if proof is not None:
        if proof["boundBy"] in ("dead", "lagging"):
            return f"bound as {proof['boundBy']}"
        if in_ranges(proof["abandoned"], seq):
            return "abandoned in the proof"
        if in_ranges(proof["lost"], seq):
            return "lost in the proof"
        return None
    # Not named: explained only if the publisher started after the window's end plus the discovery margin, by the
    # machine's clock (startedAtMs is taken before its first heartbeat, so that heartbeat's Pub/Sub publish time is
    # later still). Only a clock behind by more than the margin stamps events into a window that ended before it
    # started; the checker waits for the control topic to be read to the window's end plus the margin, not beyond,
    # so such events go to the late area by design (docs/design.md, "A publisher the checker has not heard of yet").
    # (Comparing with closedAt instead blamed a publisher that started 0.24 s before a close whose control topic
    # was read past the margin: CI, seed 20261203 on gcs, a clock 12.5 s behind starting 7.6 s after the window.)
    if info is not None and info.get("startedAtMs", 0) > iso_micros(manifest["windowEnd"]) // 1000 + discovery_margin_ms:
        return "publisher started after the window's end plus the discovery margin (clock behind by more than it)"
    return None


def staged_in_bucket(root):
    """Seq ranges still in staging at the end, by (type, publisher): where a missing event of a window left open is."""
    out = {}
    for path in glob.glob(os.path.join(root, "staging", "**", "*.manifest.json"), recursive=True):
        try:
            sm = json.load(open(path))
        except (OSError, ValueError):
            continue
        for msg in sm.get("messages", []):
            out.setdefault((sm["type"], msg["publisher"]), []).append((msg["firstSeq"], msg["firstSeq"] + msg["count"]))
    return out


def read_waiting_on(root):
    """What each checker replica last said an open window waits on: (type, window start µs) -> [reasons]."""
    out = {}
    for path in glob.glob(os.path.join(root, "checker", "status", "*.json")):
        try:
            status = json.load(open(path))
        except (OSError, ValueError):
            continue
        for w in status.get("windows", []):
            if w.get("state") in ("open", "closing"):
                key = (w["type"], iso_micros(w["windowStart"]))
                out.setdefault(key, []).extend(f"{status.get('checker')}: {x}" for x in (w.get("waitingOn") or [f"state {w['state']}"]))
    return out


def trace_lost(lost, a):
    """Where each of the first lost events was last seen (Pub/Sub tap, staging witness, a subscription): diagnostics, never an excuse."""
    def ranges_from_lines(path):
        out = {}
        for r in read_lines(path):
            if r.get("p") and r.get("t") and isinstance(r.get("f"), int) and isinstance(r.get("n"), int):
                out.setdefault((r["t"], r["p"]), []).append((r["f"], r["f"] + r["n"]))
        return out
    tapped = ranges_from_lines(a.tapped)
    staged = {}
    if a.staged and os.path.isdir(a.staged):
        for name in os.listdir(a.staged):
            sm = json.load(open(os.path.join(a.staged, name)))
            for msg in sm["messages"]:
                staged.setdefault((sm["type"], msg["publisher"]), []).append((msg["firstSeq"], msg["firstSeq"] + msg["count"], sm["file"], sm["window"]))
    out = []
    for t, p, s in lost[:200]:
        if p == "gateway":
            continue
        out.append({
            "type": t, "publisher": p, "seq": s,
            "tapped_messages": sum(1 for x in tapped.get((t, p), []) if x[0] <= s < x[1]),
            "staged_in": [{"file": x[2], "window": x[3]} for x in staged.get((t, p), []) if x[0] <= s < x[1]],
        })
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bucket")
    ap.add_argument("--gcs-endpoint")
    ap.add_argument("--gcs-bucket")
    ap.add_argument("--records", required=True)
    ap.add_argument("--malformed", required=True)
    ap.add_argument("--publishers")
    ap.add_argument("--window-s", type=int, required=True)
    ap.add_argument("--discovery-margin-ms", type=int, required=True, help="the checkers' HOURGLASS_DISCOVERY_MARGIN_MS")
    ap.add_argument("--types", required=True)
    ap.add_argument("--run-from-us", type=int, required=True)
    ap.add_argument("--run-to-us", type=int, required=True)
    ap.add_argument("--leftover")
    ap.add_argument("--tapped")
    ap.add_argument("--staged")
    ap.add_argument("--out")
    a = ap.parse_args()
    mirror_dir = None
    if a.gcs_endpoint:
        from bucket_mirror import mirror  # chaos/bucket_mirror.py, beside this file
        mirror_dir = tempfile.mkdtemp(prefix="hg-audit-mirror-")
        mirror(a.gcs_endpoint, a.gcs_bucket, mirror_dir)
        root = mirror_dir
    elif a.bucket:
        root = os.path.abspath(a.bucket)
    else:
        ap.error("give --bucket DIR or --gcs-endpoint URL with --gcs-bucket NAME")
    try:
        report = audit(root, a)
    finally:
        if mirror_dir:
            shutil.rmtree(mirror_dir, ignore_errors=True)
    text = json.dumps(report, indent=2)
    if a.out:
        with open(a.out, "w") as out:
            out.write(text)
    print(text)
    return 1 if report["broken"] else 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
