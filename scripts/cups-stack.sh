#!/usr/bin/env bash
# Start or stop a CUPS scheduler of our own for the printer tests: cupsd
# with its own configuration, state and port on 127.0.0.1, and cups-pdf
# queues that write each job as a PDF file we can look at.
#
#   scripts/cups-stack.sh start [--port N] [--queue NAME]... [--broken] [--paused]
#                               [--rejecting] [--timeout SECONDS]
#   scripts/cups-stack.sh stop
#   scripts/cups-stack.sh status
#   scripts/cups-stack.sh disable NAME | enable NAME
#   scripts/cups-stack.sh env
#
# start writes DIR/cupsd.conf and DIR/cups-files.conf, runs cupsd -f in the
# background, waits (up to --timeout, 20 s) until it answers on
# 127.0.0.1:PORT (default 36631), then adds one cups-pdf queue per --queue
# (default: one queue "card"), each writing its jobs into DIR/out/NAME as
# "<job name>.pdf".  --broken adds a queue "broken" whose device refuses
# the connection, so that every job on it is aborted with the backend's
# message; --paused adds a cups-pdf queue "paused" that is disabled, so
# that its jobs stay pending; --rejecting adds a cups-pdf queue
# "rejecting" that refuses new jobs (cupsreject).  A stack left behind by
# a killed run (same DIR) is stopped and wiped first.  disable/enable
# stop or restart a queue (cupsdisable/cupsenable).  env prints the
# stack's IDM_TEST_CUPS_* variables as shell assignments.
#
# DIR is $CUPS_STACK_DIR, default ${TMPDIR:-/tmp}/libidm-cups-$UID.  It is
# wiped by start only when it is empty or holds a stack's marker file.
#
# Everything lives in DIR except one file per cups-pdf queue: cups-pdf
# reads its settings from /etc/cups/cups-pdf-<instance>.conf for a device
# cups-pdf:/<instance> (the directory is compiled in), so we write
# /etc/cups/cups-pdf-libidm-<port>-<queue>.conf, list it in DIR/instances
# and remove it on stop.  cups-pdf must run as root, which cupsd does for
# a backend of mode 0700 only when cupsd itself runs as root: run this as
# root.  Filters run as lp (cups-files.conf User), so DIR is made
# world-traversable (its parents must be too: /tmp is).
#
# A system cupsd is never touched: ours has its own configuration, port,
# state directory and pid (DIR/cupsd.pid), listens on 127.0.0.1:PORT and
# DIR/cups.sock only (the latter when the path fits a socket address),
# and stop kills that pid only after checking it still runs our
# configuration.  No AppArmor profile confines cupsd or cups-pdf in the
# containers we run in; where one does, cups-pdf's profile must allow
# writing into DIR/out.
#
# The scheduler lets anyone on 127.0.0.1 administer it without a password
# (lpadmin would otherwise need the local certificate of /run/cups): it is
# a test stack bound to loopback only.
set -euo pipefail

state_dir="${CUPS_STACK_DIR:-${TMPDIR:-/tmp}/libidm-cups-$(id -u)}"
port=36631
timeout=20
queues=()
broken=0
paused=0
rejecting=0
ppd=/usr/share/ppd/cups-pdf/CUPS-PDF_noopt.ppd
marker=.libidm-cups-stack

die() { echo "cups-stack: $*" >&2; exit 1; }
say() { echo "cups-stack: $*"; }

usage() {
    sed -n '2,/^$/p' "${BASH_SOURCE[0]}" | sed -n 's/^# \{0,1\}//p'
    exit "${1:-2}"
}

# alive PID: running and not a zombie.
alive() {
    local state
    state=$(awk '/^State:/ {print $2}' "/proc/$1/status" 2>/dev/null) || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

# ours PID: alive and still the cupsd started with this stack's configuration
# (pids get reused; a system cupsd runs with another one).
ours() {
    local cmdline
    alive "$1" || return 1
    cmdline=$(tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *cupsd*"$state_dir/cupsd.conf"* ]]
}

server() { echo "127.0.0.1:$(cat "$state_dir/port")"; }

# port_busy N: something accepts connections on 127.0.0.1:N.
port_busy() {
    (exec 3<> "/dev/tcp/127.0.0.1/$1") 2> /dev/null
}

recorded_pid() {
    if [[ -s $state_dir/cupsd.pid ]]; then cat "$state_dir/cupsd.pid"; fi
}

# Removes the cups-pdf settings this stack wrote under /etc/cups.
remove_instances() {
    local conf
    if [[ -f $state_dir/instances ]]; then
        while read -r conf; do
            # never anything else, whatever the file says
            if [[ $conf == /etc/cups/cups-pdf-libidm-*.conf && ${conf#/etc/cups/} != */* ]]; then
                rm -f "$conf"
            fi
        done < "$state_dir/instances"
        rm -f "$state_dir/instances"
    fi
}

cmd_stop() {
    local pid i
    pid=$(recorded_pid)
    if [[ -n $pid ]] && ours "$pid"; then
        say "stopping cupsd (pid $pid)"
        kill -TERM "$pid" 2> /dev/null || true
        for ((i = 0; i < 100; i++)); do
            alive "$pid" || break
            sleep 0.1
        done
        if alive "$pid"; then
            say "cupsd (pid $pid) ignored SIGTERM for 10 s; sending SIGKILL"
            kill -KILL "$pid" 2> /dev/null || true
        fi
    elif [[ -n $pid ]]; then
        say "cupsd (pid $pid) already gone"
    fi
    rm -f "$state_dir/cupsd.pid"
    remove_instances
    say "stopped"
}

cmd_status() {
    local pid
    pid=$(recorded_pid)
    if [[ -z $pid ]]; then
        say "no stack started from $state_dir"
        return 1
    fi
    if ! ours "$pid"; then
        say "cupsd (pid $pid) is gone"
        return 1
    fi
    say "cupsd pid $pid on $(server), state in $state_dir"
    lpstat -h "$(server)" -p 2>&1 | sed 's/^/cups-stack: /'
}

# Wipes a stopped stack's directory, refusing one that is not a stack's.
wipe_state_dir() {
    if [[ -d $state_dir && ! -f $state_dir/$marker ]] \
        && [[ -n $(ls -A "$state_dir" 2> /dev/null) ]]; then
        die "$state_dir is not empty and holds no cups stack; set CUPS_STACK_DIR"
    fi
    if [[ -d $state_dir ]]; then
        find "$state_dir" -mindepth 1 -delete
    fi
}

write_conf() {
    local d=$state_dir socket_line=""
    # A socket path must fit sockaddr_un (108 bytes with its NUL).
    if ((${#d} + 10 < 108)); then
        socket_line="Listen $d/cups.sock"
    fi
    cat > "$d/cupsd.conf" << EOF
# libidm test scheduler (scripts/cups-stack.sh): loopback only, no auth.
Listen 127.0.0.1:$port
$socket_line
ServerName 127.0.0.1
Browsing No
BrowseLocalProtocols none
DefaultShared No
WebInterface No
LogLevel info
MaxLogSize 0
PreserveJobHistory Yes
PreserveJobFiles No
DefaultAuthType None
<Location />
  Order allow,deny
  Allow from 127.0.0.1
</Location>
<Location /admin>
  Order allow,deny
  Allow from 127.0.0.1
</Location>
<Policy default>
  JobPrivateAccess all
  JobPrivateValues none
  SubscriptionPrivateAccess all
  SubscriptionPrivateValues none
  <Limit All>
    Order allow,deny
    Allow from 127.0.0.1
  </Limit>
</Policy>
EOF
    cat > "$d/cups-files.conf" << EOF
ServerRoot $d/root
RequestRoot $d/spool
TempDir $d/spool/tmp
StateDir $d/run
CacheDir $d/cache
ErrorLog $d/log/error_log
AccessLog $d/log/access_log
PageLog $d/log/page_log
Printcap $d/printcap
FileDevice No
User lp
Group lp
SystemGroup root
LogFileGroup root
EOF
}

# add_pdf_queue NAME: a cups-pdf queue writing into DIR/out/NAME.
add_pdf_queue() {
    local name=$1 instance="libidm-$port-$1" conf
    conf="/etc/cups/cups-pdf-$instance.conf"
    mkdir -p "$state_dir/out/$name" "$state_dir/cups-pdf/$name"
    echo "$conf" >> "$state_dir/instances"
    # TitlePref 1: the file is named for the job name rather than for a
    # title the document may carry; Label 0 and Cut -1 keep that name
    # as is (no job number, no "extension" cut after a dot).
    cat > "$conf" << EOF
# written by libidm's scripts/cups-stack.sh for $state_dir; removed by its stop
Out $state_dir/out/$name
AnonDirName $state_dir/out/$name
Spool $state_dir/cups-pdf/$name
Log $state_dir/log
LogType 3
Grp root
Label 0
TitlePref 1
Cut -1
Truncate 200
UserUMask 0022
AnonUMask 0022
EOF
    # Ghostscript's ps2write turns a page with a transparency group (cairo
    # gives every page one) into a 300 dpi image, whose text no test can
    # read back; poppler's pdftops keeps text as text.
    lpadmin -h "$(server)" -p "$name" -E -v "cups-pdf:/$instance" -P "$ppd" \
        -o printer-error-policy=abort-job -o pdftops-renderer-default=pdftops 2>&1 \
        | grep -v 'deprecated' >&2 || true
    lpstat -h "$(server)" -p "$name" > /dev/null 2>&1 || die "queue $name was not created"
    say "queue $name -> $state_dir/out/$name"
}

cmd_start() {
    local pid i name
    if ! [[ $port =~ ^[0-9]+$ ]] || ((port < 1024 || port > 65535)); then
        die "--port is '$port'; expected 1024..65535"
    fi
    command -v cupsd > /dev/null || die "cupsd is not installed (apt-get install cups-daemon)"
    command -v lpadmin > /dev/null || die "lpadmin is not installed (apt-get install cups-client)"
    [[ -x /usr/lib/cups/backend/cups-pdf ]] \
        || die "the cups-pdf backend is missing (apt-get install printer-driver-cups-pdf)"
    [[ -f $ppd ]] || die "$ppd is missing (apt-get install printer-driver-cups-pdf)"
    [[ $(id -u) == 0 ]] || die "must run as root: cups-pdf runs as root only under a root cupsd"
    ((${#queues[@]} > 0)) || queues=(card)
    for name in "${queues[@]}"; do
        [[ $name =~ ^[A-Za-z0-9_-]{1,64}$ ]] || die "queue name '$name' is not 1..64 of [A-Za-z0-9_-]"
        [[ $name != broken && $name != paused && $name != rejecting ]] \
            || die "queue name '$name' is reserved: use --$name for that queue"
    done
    ((broken == 0)) || queues+=(broken)
    ((paused == 0)) || queues+=(paused)
    ((rejecting == 0)) || queues+=(rejecting)
    if [[ $(printf '%s\n' "${queues[@]}" | sort | uniq -d) != "" ]]; then
        die "a queue name is given twice: ${queues[*]}"
    fi

    # A stack of this directory still running, or killed and left behind.
    if [[ -n $(recorded_pid) || -f $state_dir/instances ]]; then
        say "stopping the stack left in $state_dir"
        cmd_stop
    fi
    if port_busy "$port"; then
        die "127.0.0.1:$port is taken by another program; choose another --port"
    fi
    # A killed run of another directory on this port left its cups-pdf
    # settings: the port is free, so no running stack owns them.
    rm -f /etc/cups/cups-pdf-libidm-"$port"-*.conf
    wipe_state_dir
    mkdir -p "$state_dir"
    touch "$state_dir/$marker"
    # Filters run as lp and read the job files under spool/.
    chmod 0755 "$state_dir"
    mkdir -p "$state_dir"/{root,spool/tmp,run,cache,log,out,cups-pdf}
    echo "$port" > "$state_dir/port"
    write_conf

    setsid cupsd -f -c "$state_dir/cupsd.conf" -s "$state_dir/cups-files.conf" \
        > "$state_dir/log/cupsd.out" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$state_dir/cupsd.pid"
    say "started cupsd (pid $pid) on 127.0.0.1:$port"
    for ((i = 0; i < timeout * 10; i++)); do
        if ! alive "$pid"; then
            cat "$state_dir/log/cupsd.out" >&2
            tail -n 20 "$state_dir/log/error_log" >&2 2> /dev/null || true
            die "cupsd exited while starting"
        fi
        if lpstat -h "$(server)" -r 2> /dev/null | grep -q 'is running'; then
            break
        fi
        sleep 0.1
    done
    if ! lpstat -h "$(server)" -r 2> /dev/null | grep -q 'is running'; then
        tail -n 20 "$state_dir/log/error_log" >&2 2> /dev/null || true
        cmd_stop >&2
        die "cupsd did not answer on 127.0.0.1:$port within $timeout s"
    fi

    for name in "${queues[@]}"; do
        if [[ $name == broken ]]; then
            # Nothing listens on port 1: the socket backend gives up after
            # contimeout (seconds) with "The printer is not responding.",
            # and abort-job makes that the job's end.
            lpadmin -h "$(server)" -p broken -E -v "socket://127.0.0.1:1/?contimeout=1" \
                -P "$ppd" -o printer-error-policy=abort-job 2>&1 | grep -v deprecated >&2 || true
            lpstat -h "$(server)" -p broken > /dev/null 2>&1 || die "queue broken was not created"
            say "queue broken -> socket://127.0.0.1:1 (jobs abort)"
        else
            add_pdf_queue "$name"
        fi
    done
    printf '%s\n' "${queues[@]}" > "$state_dir/queues"
    if ((paused)); then
        cupsdisable -h "$(server)" -r "paused by cups-stack.sh" paused
        say "queue paused disabled"
    fi
    if ((rejecting)); then
        cupsreject -h "$(server)" -r "rejecting by cups-stack.sh" rejecting
        say "queue rejecting refuses jobs"
    fi
    say "running; server $(server), state in $state_dir"
}

cmd_env() {
    local name first=""
    [[ -s $state_dir/port && -f $state_dir/queues ]] || die "no stack in $state_dir"
    echo "IDM_TEST_CUPS_SERVER=$(server)"
    if [[ -S $state_dir/cups.sock ]]; then
        echo "IDM_TEST_CUPS_SOCKET=$state_dir/cups.sock"
    fi
    while read -r name; do
        case $name in
            broken) echo "IDM_TEST_CUPS_BROKEN_QUEUE=broken" ;;
            paused) echo "IDM_TEST_CUPS_PAUSED_QUEUE=paused" ;;
            rejecting) echo "IDM_TEST_CUPS_REJECTING_QUEUE=rejecting" ;;
            *) [[ -n $first ]] || first=$name ;;
        esac
    done < "$state_dir/queues"
    if [[ -n $first ]]; then
        echo "IDM_TEST_CUPS_QUEUE=$first"
        echo "IDM_TEST_CUPS_OUT=$state_dir/out/$first"
    fi
}

[[ $# -ge 1 ]] || usage
command=$1
shift
case $command in
    start)
        while [[ $# -gt 0 ]]; do
            case $1 in
                --port) port=${2:?--port needs a number}; shift 2 ;;
                --queue) queues+=("${2:?--queue needs a name}"); shift 2 ;;
                --broken) broken=1; shift ;;
                --paused) paused=1; shift ;;
                --rejecting) rejecting=1; shift ;;
                --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
                -h | --help) usage 0 ;;
                *) die "unknown option '$1' (try --help)" ;;
            esac
        done
        if ! [[ $timeout =~ ^[0-9]+$ ]] || ((timeout == 0)); then
            die "--timeout is '$timeout'; expected whole seconds"
        fi
        cmd_start
        ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    disable | enable)
        [[ $# -eq 1 ]] || die "$command needs a queue name"
        [[ -s $state_dir/port ]] || die "no stack in $state_dir"
        "cups$command" -h "$(server)" "$1"
        say "queue $1 ${command}d"
        ;;
    env) cmd_env ;;
    -h | --help) usage 0 ;;
    *) usage ;;
esac
