#!/bin/bash
# The simulator tables of docs/performance.md (issue 11), from the
# repository root after `cargo build --release -p vtcp-cli`:
#   bash benches/sim_table.sh bulk       RACK-TLP against RFC 6675 at RTT
#                                        1/20/100 ms, loss 0.5/1/2/5 %,
#                                        reordering 0/2 %
#   bash benches/sim_table.sh exchanges  1000 exchanges of a 100-byte
#                                        request and a 10 KB response,
#                                        with and without RACK-TLP
set -euo pipefail
V=./target/release/vtcp
field() { echo "$1" | awk -v k="$2" '$1==k {print $2}' | head -1; }
undone() { echo "$1" | awk '/^undone/ {print $2" / "substr($4,2)}'; }
case "${1:-bulk}" in
bulk)
  echo "| RTT | loss | reorder | Mathis bound | RACK-TLP goodput | RTOs | retx | undone / spurious bytes | RFC 6675 goodput | RTOs | retx | undone / spurious bytes |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
  for rtt in 1 20 100; do for loss in 0.5 1 2 5; do for ro in 0 2; do
    a=$($V sim -q --bytes 8M --rtt $rtt --loss $loss% --reorder $ro% --bandwidth 1000 --seed 7)
    b=$($V sim -q --bytes 8M --rtt $rtt --loss $loss% --reorder $ro% --bandwidth 1000 --seed 7 --no-rack)
    g() { echo "$1" | awk '$1=="goodput" {print $2" "$3}'; }
    m=$(echo "$a" | awk '/^mathis/ {print $3" "$4}')
    echo "| $rtt ms | $loss % | $ro % | $m | $(g "$a") | $(field "$a" RTOs) | $(field "$a" retransmitted) | $(undone "$a") | $(g "$b") | $(field "$b" RTOs) | $(field "$b" retransmitted) | $(undone "$b") |"
  done; done; done
  ;;
exchanges)
  echo "| RTT | loss | RACK-TLP p50 / p99 / max (ms) | RTOs | probes | RFC 6675 p50 / p99 / max (ms) | RTOs |"
  echo "|---|---|---|---|---|---|---|"
  for rtt in 1 20 100; do for loss in 1 2 5; do
    a=$($V sim -q --exchanges 1000 --bytes 10K --rtt $rtt --loss $loss% --seed 7)
    b=$($V sim -q --exchanges 1000 --bytes 10K --rtt $rtt --loss $loss% --seed 7 --no-rack)
    p() { echo "$1" | awk '/^exchanges/ {gsub(",",""); print $4" / "$7" / "$10}'; }
    echo "| $rtt ms | $loss % | $(p "$a") | $(field "$a" RTOs) | $(echo "$a" | awk '/^tail probes/ {print $3}') | $(p "$b") | $(field "$b" RTOs) |"
  done; done
  ;;
*) echo "usage: $0 bulk|exchanges" >&2; exit 2 ;;
esac
