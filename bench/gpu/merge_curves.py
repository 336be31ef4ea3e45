"""Appends the learning curves of another study to bench/data's tables.

usage: merge_curves.py TRIALS.csv CURVES.csv NEW_TRIALS.csv NEW_CURVES.csv OFFSET

The new study's trials are renumbered OFFSET + number (so they cannot collide
with the recorded ones); only the columns of TRIALS.csv and the metrics already
in CURVES.csv are kept (a newer trainer reports more of them)."""
import csv
import sys


def main():
    trials, curves, new_trials, new_curves, offset = sys.argv[1:6]
    offset = int(offset)
    with open(trials, newline='') as f:
        columns = next(csv.reader(f))
    with open(curves, newline='') as f:
        metrics = {row['metric'] for row in csv.DictReader(f)}
    with open(new_trials, newline='') as f, open(trials, 'a', newline='') as out:
        writer = csv.DictWriter(out, columns, extrasaction='ignore')
        for row in csv.DictReader(f):
            row['number'] = str(offset + int(row['number']))
            writer.writerow(row)
    with open(new_curves, newline='') as f, open(curves, 'a', newline='') as out:
        writer = csv.writer(out)
        for row in csv.DictReader(f):
            if row['metric'] in metrics:
                writer.writerow([offset + int(row['number']), row['step'], row['metric'], row['value']])


if __name__ == '__main__':
    main()
