"""Runs N copies of a trainer command at once and prints the median seconds per
epoch (epochs 2.. only, so CUDA start-up is excluded) and the aggregate images/s.
vernier-train prints JSON step lines to stdout; cnn_eager.py prints 'epoch N seconds S'."""
import json, statistics, subprocess, sys, time, threading
n = int(sys.argv[1]); label = sys.argv[2]; cmd = sys.argv[3:]
per_proc = [[] for _ in range(n)]
def run(k):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    last = time.perf_counter()
    for line in proc.stdout:
        now = time.perf_counter()
        if line.startswith('epoch '):
            per_proc[k].append(float(line.split()[3]))
        elif line.startswith('{') and '"step"' in line:
            per_proc[k].append(now - last)
        last = now
    proc.wait()
threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
for t in threads: t.start()
for t in threads: t.join()
med = statistics.median([s for p in per_proc for s in p[1:]] or [float('nan')])
print(f'{label} procs={n} median_epoch_s={med:.3f} images_per_s={n * 50000 / med:.0f}', flush=True)
