#!/usr/bin/env bash
# Runs every configuration of the emulator experiment, one emulator at a time, and writes chaos/emulator-redelivery-results/NAME.json (see chaos/EMULATOR.md).
# Usage: bash chaos/emulator/run-all.sh [NAME…]   (no name: all of them; about an hour on 2 loaded cores)
set -u
cd "$(dirname "$0")/../.."
export PATH="$PWD/node_modules/.bin:$PATH" METADATA_SERVER_DETECTION=none
out=chaos/emulator-redelivery-results
small=(--mode kill --messages 1 --publish-s 2 --hold-ms 600000 --restart no --after-fault-s 0 --grpc-log)
declare -A configs=(
  [refuse]="--mode refuse"
  [blackhole]="--mode blackhole"
  [blackhole-50s]="--mode blackhole --fault-s 50"
  [reset]="--mode reset"
  [kill]="--mode kill"
  [kill-ack-deadline-60]="--mode kill --ack-deadline 60 --after-fault-s 22"
  [kill-acking]="--mode kill-acking --die-after-ms 0"
  [kill-acking-110ms]="--mode kill-acking --die-after-ms 110"
  [close]="--mode close"
  [kill-unary-pull]="--mode kill --pull unary"
  [smallest-kill]="${small[*]} --drain-after-s 35 --drain-s 25"
  [smallest-kill-stream-deadline-20s]="${small[*]} --stream-deadline-s 20 --drain-s 45"
  [patched-smallest-kill]="${small[*]} --drain-after-s 35 --drain-s 25 --emulator patched"
  [patched-kill]="--mode kill --emulator patched"
  [patched-refuse]="--mode refuse --emulator patched"
  [patched-reset]="--mode reset --emulator patched"
  [kill-3-times-5-streams-1000-messages-10KB]="--mode kill --faults 3 --max-streams 5 --max-messages 1000 --size 10000 --messages 2000 --publish-s 12"
  [patched-kill-3-times-5-streams-1000-messages-10KB]="--mode kill --faults 3 --max-streams 5 --max-messages 1000 --size 10000 --messages 2000 --publish-s 12 --emulator patched"
)
order=(kill smallest-kill patched-smallest-kill smallest-kill-stream-deadline-20s patched-kill refuse patched-refuse reset patched-reset
  blackhole kill-acking kill-acking-110ms close kill-unary-pull kill-ack-deadline-60 kill-3-times-5-streams-1000-messages-10KB
  patched-kill-3-times-5-streams-1000-messages-10KB blackhole-50s)
names=("${@:-${order[@]}}")
for name in "${names[@]}"; do
  echo "== $name: ${configs[$name]}" >&2
  # shellcheck disable=SC2086 # the configuration is a list of flags
  node chaos/emulator-redelivery.ts ${configs[$name]} --runs 3 --out "$out/$name.json"
  echo "   exit $? (1 = some message missing for good)" >&2
done
