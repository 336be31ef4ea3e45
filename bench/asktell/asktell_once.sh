# Sourced by run.sh and ab.sh: one asktell-bench run against a fresh
# vernier-server on a fresh database.

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# asktell_once BUILD DB SAMPLER TRIALS CLIENTS CONNECTIONS: prints
# asktell-bench's JSON line. DB (and its -wal, -shm, checkpoints) is removed
# first; the server's log goes to DB.log. Runs in a subshell whose exit,
# however it comes, stops the server.
asktell_once() (
  build=$1 db=$2 server_pid=""
  trap '[[ -z "$server_pid" ]] || { kill "$server_pid"; wait "$server_pid"; } 2>/dev/null || true' EXIT
  port=$(free_port)
  rm -rf "$db" "$db"-* "$db".*
  "$build/bin/vernier-server" --db "$db" --listen "127.0.0.1:$port" --insecure \
    --group-commit "${GROUP_COMMIT:-true}" >"$db.log" 2>&1 &
  server_pid=$!
  "$build/bin/asktell-bench" --server "127.0.0.1:$port" --study "s" --sampler "$3" \
    --trials "$4" --clients "$5" --threads "${CLIENT_THREADS:-2}" --connections "$6"
)
