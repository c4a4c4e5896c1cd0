#!/bin/bash
# The simulator table of docs/performance.md (issue 11): RACK-TLP against
# RFC 6675 at RTT 1/20/100 ms, loss 0.5/1/2/5 %, reordering 0/2 %.
# Run from the repository root after `cargo build --release -p vtcp-cli`.
set -euo pipefail
V=./target/release/vtcp
echo "| RTT | loss | reorder | Mathis bound | RACK-TLP goodput | RTOs | retx | RFC 6675 goodput | RTOs | retx |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for rtt in 1 20 100; do for loss in 0.5 1 2 5; do for ro in 0 2; do
  a=$($V sim -q --bytes 8M --rtt $rtt --loss $loss% --reorder $ro% --bandwidth 1000 --seed 7)
  b=$($V sim -q --bytes 8M --rtt $rtt --loss $loss% --reorder $ro% --bandwidth 1000 --seed 7 --no-rack)
  g() { echo "$1" | awk -v k="$2" '$1==k {print $2" "$3}' | head -1; }
  n() { echo "$1" | awk -v k="$2" '$0 ~ "^"k {print $NF=="segments"?$(NF-1):$2}' | head -1; }
  m=$(echo "$a" | awk '/^mathis/ {print $3" "$4}')
  echo "| $rtt ms | $loss % | $ro % | $m | $(g "$a" goodput) | $(echo "$a" | awk '/^RTOs/ {print $2}') | $(echo "$a" | awk '/^retransmitted/ {print $2}') | $(g "$b" goodput) | $(echo "$b" | awk '/^RTOs/ {print $2}') | $(echo "$b" | awk '/^retransmitted/ {print $2}') |"
done; done; done
