#!/usr/bin/env bash
# Start or stop a PC/SC test stack: pcscd with Debian's vsmartcard-vpcd reader
# driver, and one virtual PIV card (tests/vcard/virtual_piv.py) per reader.
#
#   scripts/pcsc-stack.sh start [--readers 1|2] [--state-dir DIR] [--fresh]
#                               [--timeout SECONDS] [card options...]
#   scripts/pcsc-stack.sh card N [--state-dir DIR] [--fresh] [--remove] [card options...]
#   scripts/pcsc-stack.sh stop   [--state-dir DIR]
#   scripts/pcsc-stack.sh status [--state-dir DIR]
#
# card N swaps the card in reader N of a running stack for a new one with
# the given options (--fresh: a blank card; --remove: no card at all), and
# returns when pcscd has seen the old card leave and the new one arrive.
#
# Card options (--no-piv, --full, --vanish-after N, --mgmt-alg, --mgmt-key,
# --hopper, --tray TRAY, --verbose) go to every card.  Each card keeps its
# content in DIR/cardN.json across stop/start; --fresh deletes those files
# first.  With --hopper --tray TRAY every card a hopper ejects is kept in
# TRAY as <chip serial>.json (tests/vcard/virtual_piv.py).
#
# The pids this script started are written to DIR/stack.pids, and stop kills
# exactly those (after checking they are still the programs we started), so
# a pcscd that was already running is reused and left alone.
#
# Needs: pcscd vsmartcard-vpcd python3-cryptography (opensc pcsc-tools for
# looking at the cards by hand).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
card_py="$here/tests/vcard/virtual_piv.py"
wait_py="$here/tests/vcard/pcsc_wait.py"
python=/usr/bin/python3
base_port=35963          # vpcd slot 0; slot 1 is base_port + 1

state_dir="${PCSC_STACK_DIR:-/tmp/libidm-pcsc-stack-$(id -u)}"
readers=1
timeout=10
fresh=0
card_args=()

die() { echo "pcsc-stack: $*" >&2; exit 1; }
say() { echo "pcsc-stack: $*"; }

usage() {
    sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
    exit "${1:-2}"
}

# alive PID: running, and not a zombie (in containers without a reaping
# init, a stopped daemon can linger as a zombie that kill -0 still finds).
alive() {
    local state
    state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

# is_ours PID NAME: the pid is alive and still runs NAME (pids get reused).
is_ours() {
    local pid=$1 name=$2 cmdline
    alive "$pid" || return 1
    cmdline=$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$name"* ]]
}

pids_file() { echo "$state_dir/stack.pids"; }

# Lines of the pids file: "<role> <pid> <program>", e.g. "card0 1234 virtual_piv.py".
read_pids() {
    if [[ -f $(pids_file) ]]; then cat "$(pids_file)"; fi
}

stack_alive() {
    local role pid prog alive=0 dead=0
    while read -r role pid prog; do
        [[ -n $pid ]] || continue
        if is_ours "$pid" "$prog"; then alive=$((alive + 1)); else dead=$((dead + 1)); fi
    done < <(read_pids)
    ((alive > 0)) && ((dead == 0))
}

cmd_status() {
    local role pid prog
    if [[ ! -s $(pids_file) ]]; then
        say "no stack started from $state_dir"
        return 1
    fi
    while read -r role pid prog; do
        if is_ours "$pid" "$prog"; then
            say "$role: pid $pid running ($prog)"
        else
            say "$role: pid $pid is gone ($prog)"
        fi
    done < <(read_pids)
    stack_alive
}

cmd_stop() {
    local role pid prog pids=() i
    if [[ ! -f $(pids_file) ]]; then
        say "nothing to stop (no $(pids_file))"
        return 0
    fi
    while read -r role pid prog; do
        [[ -n $pid ]] || continue
        if is_ours "$pid" "$prog"; then
            kill -TERM "$pid" 2>/dev/null && pids+=("$pid") && say "stopping $role (pid $pid)"
        else
            say "$role (pid $pid) already gone"
        fi
    done < <(read_pids)
    # Give them 5 s to exit cleanly (pcscd removes its socket, cards save state).
    for ((i = 0; i < 50; i++)); do
        local left=()
        for pid in "${pids[@]}"; do
            alive "$pid" && left+=("$pid")
        done
        ((${#left[@]} == 0)) && break
        sleep 0.1
    done
    for pid in "${left[@]}"; do
        say "pid $pid ignored SIGTERM; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
    done
    rm -f "$(pids_file)"
    say "stopped"
}

# start_bg ROLE LOG PROGRAM ARGS...: run detached, record the pid.
start_bg() {
    local role=$1 log=$2 prog=$3
    shift 3
    # setsid: the daemons must survive the shell (or CI step) that started them.
    setsid "$@" > "$log" 2>&1 < /dev/null &
    local pid=$!
    echo "$role $pid $prog" >> "$(pids_file)"
    say "started $role (pid $pid, log $log)"
}

cmd_start() {
    local i pcscd_pid
    [[ $readers == 1 || $readers == 2 ]] || die "--readers is '$readers'; expected 1 or 2"
    command -v pcscd > /dev/null || die "pcscd is not installed (apt-get install pcscd)"
    [[ -f /etc/reader.conf.d/vpcd ]] \
        || die "/etc/reader.conf.d/vpcd is missing (apt-get install vsmartcard-vpcd)"
    $python -c 'import cryptography' 2> /dev/null \
        || die "$python cannot import cryptography (apt-get install python3-cryptography)"
    mkdir -p "$state_dir"

    if [[ -s $(pids_file) ]]; then
        if stack_alive; then
            say "stack already running from $state_dir:"
            cmd_status
            return 0
        fi
        say "part of the previous stack is gone; stopping the rest and starting again"
        cmd_stop
    fi
    : > "$(pids_file)"
    if ((fresh)); then
        rm -f "$state_dir"/card*.json
    fi

    # pgrep only looks: a pcscd we did not start is reused, never touched.
    pcscd_pid=""
    for i in $(pgrep -x pcscd || true); do
        if alive "$i"; then pcscd_pid=$i; break; fi
    done
    if [[ -n $pcscd_pid ]]; then
        say "reusing the pcscd that is already running (pid $pcscd_pid); stop will leave it alone"
    else
        # A pcscd that died without cleaning up (SIGKILL) leaves its socket
        # and pid file; when its pid lingers as an unreaped zombie, a new
        # pcscd takes it for alive and refuses to start.  Nothing runs: clear.
        rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid 2>/dev/null || true
        # -f: foreground, so the pid is pcscd's own and its log goes to a file;
        # no -x (auto-exit), so it stays up between test programs.
        start_bg pcscd "$state_dir/pcscd.log" pcscd pcscd --foreground
    fi

    for ((i = 0; i < readers; i++)); do
        start_bg "card$i" "$state_dir/card$i.log" virtual_piv.py \
            "$python" "$card_py" --port $((base_port + i)) \
            --state "$state_dir/card$i.json" "${card_args[@]}"
    done

    if ! $python "$wait_py" --readers "$readers" --timeout "$timeout"; then
        echo "pcsc-stack: the cards did not show up; last lines of the logs:" >&2
        tail -n 5 "$state_dir"/*.log >&2 || true
        cmd_stop >&2
        exit 1
    fi
    say "ready ($readers reader(s)); stop with: $0 stop --state-dir $state_dir"
}

cmd_card() {
    local index=$1 role pid prog kept=()
    [[ $index =~ ^[01]$ ]] || die "card: reader index is '$index'; expected 0 or 1"
    [[ -s $(pids_file) ]] || die "card: no stack is running from $state_dir"
    role="card$index"
    while read -r r pid prog; do
        if [[ $r == "$role" ]]; then
            if is_ours "$pid" "$prog"; then
                kill -TERM "$pid" 2>/dev/null || true
                local i
                for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
                alive "$pid" && kill -KILL "$pid" 2>/dev/null
            fi
        else
            kept+=("$r $pid $prog")
        fi
    done < <(read_pids)
    printf '%s\n' "${kept[@]}" > "$(pids_file)"
    $python "$wait_py" --only "$index" --absent --timeout "$timeout" \
        || die "card: pcscd still shows the old card in reader $index"
    ((remove)) && { say "removed the card from reader $index"; return 0; }
    ((fresh)) && rm -f "$state_dir/$role.json"
    start_bg "$role" "$state_dir/$role.log" virtual_piv.py \
        "$python" "$card_py" --port $((base_port + index)) \
        --state "$state_dir/$role.json" "${card_args[@]}"
    $python "$wait_py" --only "$index" --timeout "$timeout" \
        || die "card: the new card did not show up in reader $index"
}

[[ $# -ge 1 ]] || usage
action=$1
shift
card_index=""
remove=0
if [[ $action == card ]]; then
    card_index=${1:?card needs a reader index}
    shift
fi
while [[ $# -gt 0 ]]; do
    case $1 in
        --readers) readers=${2:?--readers needs a value}; shift 2 ;;
        --state-dir) state_dir=${2:?--state-dir needs a value}; shift 2 ;;
        --timeout) timeout=${2:?--timeout needs a value}; shift 2 ;;
        --fresh) fresh=1; shift ;;
        --remove) remove=1; shift ;;
        -h|--help) usage 0 ;;
        *) card_args+=("$1"); shift ;;
    esac
done

case $action in
    start) cmd_start ;;
    stop) cmd_stop ;;
    card) cmd_card "$card_index" ;;
    status) cmd_status ;;
    -h|--help|help) usage 0 ;;
    *) echo "pcsc-stack: unknown action '$action'" >&2; usage ;;
esac
