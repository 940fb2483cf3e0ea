#!/usr/bin/env bash
# Re-creates the bundled sample runs with the default model (real sampling;
# deterministic for a given llama.cpp build and CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
B=./target/release/reasonscope
mkdir -p sample_runs
$B sample --title "Apples (N = 16)" --prompt "Tom has 3 apples and buys 5 more. How many apples does he have?" \
  --gold 8 -n 16 --max-tokens 256 --seed 42 -o sample_runs/apples-n16.json.gz
$B sample --title "Change from a 20 dollar bill (paths split)" \
  --prompt "A pen costs 3 dollars. Sara buys 4 pens and pays with a 20 dollar bill. How much change does she get?" \
  --gold 8 -n 16 --max-tokens 256 --seed 7 -o sample_runs/change-split-n16.json.gz
$B sample --title "7 times 8, short answers (N = 64)" --prompt "What is 7 times 8? Answer briefly." \
  --gold 56 -n 64 --max-tokens 48 --seed 1 --judge p_true,p_true_brainstorm,usc \
  -o sample_runs/multiply-n64.json.gz
# The run the app opens first: reasoning of a few dozen to a few hundred
# tokens, competing answers with gold, reflection, decisive forks, and
# selection methods that disagree (judged, so P(True) and USC show too).
$B sample --title "Apples, explained (N = 32)" \
  --prompt "Tom has 3 apples and buys 5 more. How many apples does he have? Explain your reasoning." \
  --gold 8 -n 32 --max-tokens 384 --seed 42 --judge p_true,p_true_brainstorm,usc \
  -o sample_runs/apples-explained-n32.json.gz
$B sample --title "Apples over 3 turns (drift, no-history reference)" \
  --turn "Tom has 3 apples and buys 5 more. How many apples does he have?" \
  --turn "Are you sure? Check your work." --turn "State your final answer." \
  --gold 8 --gold 8 --gold 8 --drift-reference no-history \
  -n 16 --max-tokens 160 --seed 3 -o sample_runs/apples-3turns-n16.json.gz
$B sample --title "Apples with CNTP (N = 8)" --method cntp \
  --prompt "Tom has 3 apples and buys 5 more. How many apples does he have?" \
  --gold 8 -n 8 --max-tokens 128 --seed 5 -o sample_runs/apples-cntp-n8.json.gz
