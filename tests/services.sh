#!/usr/bin/env bash
# Make sure PostgreSQL, Redis and RabbitMQ answer before the suite runs: start a local one that is
# installed but stopped, and name the one that is missing. URLs come from the environment or the defaults.
set -u

DATABASE_URL=${DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}
REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
AMQP_URL=${AMQP_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}

hostport() {  # scheme://user:pass@host:port/x -> "host port"
  local rest=${1#*://}; rest=${rest#*@}; rest=${rest%%/*}
  local host=${rest%%:*} port=${rest##*:}
  [ "$port" = "$rest" ] && port=$2
  echo "$host $port"
}

up() { # host port
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_up() { # name host port seconds
  local i
  for ((i = 0; i < $4 * 2; i++)); do up "$2" "$3" && return 0; sleep 0.5; done
  return 1
}

local_host() { [ "$1" = 127.0.0.1 ] || [ "$1" = localhost ]; }

ensure() { # name url default-port start-command installed-check
  local name=$1 url=$2 hp host port
  hp=$(hostport "$url" "$3"); host=${hp% *}; port=${hp#* }
  up "$host" "$port" && { echo "services: $name is up at $host:$port"; return 0; }
  if ! local_host "$host"; then
    echo "services: $name at $host:$port does not answer (remote; not started from here)" >&2; return 1
  fi
  if ! command -v "$5" >/dev/null 2>&1; then
    echo "services: $name is not installed on this machine ($5 not found) and nothing answers at $host:$port" >&2
    return 1
  fi
  echo "services: starting $name ..."
  eval "$4" >/dev/null 2>&1
  wait_up "$name" "$host" "$port" 60 && { echo "services: $name is up at $host:$port"; return 0; }
  echo "services: $name did not come up at $host:$port" >&2
  return 1
}

ok=0
ensure PostgreSQL "$DATABASE_URL" 5432 \
  'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql | head -n1) main start' pg_ctlcluster || ok=1
ensure Redis "$REDIS_URL" 6379 \
  'redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no' redis-server || ok=1
ensure RabbitMQ "$AMQP_URL" 5672 'rabbitmq-server -detached' rabbitmq-server || ok=1
exit $ok
