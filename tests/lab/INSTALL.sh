#!/usr/bin/env bash
# Install what the ghost-call lab (tests/lab/) needs, without starting any system service.
#
# Usage: tests/lab/INSTALL.sh [PYTHON]   (PYTHON: the project's venv interpreter; default .venv/bin/python)
#
# Idempotent, non-interactive, safe to run in CI as root with no stdin:
#   - Debian packages: nftables, dnsmasq-base (the binary without the service), sip-tester (sipp),
#     openssh-server (sshd; its service is kept from starting), conntrack, busybox (udhcpc), iproute2, tcpdump
#     (the router's live capture of routerfix diagnose --capture);
#   - PyPI: sipvicious (sipvicious_svmap, sipvicious_svwar) into the project venv.
# A temporary /usr/sbin/policy-rc.d (exit 101) forbids maintainer scripts to start services; on systemd hosts the
# ssh/nftables units are additionally stopped and disabled afterwards. Nothing is started in the root namespace.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python_bin="${1:-$root/.venv/bin/python}"

if [ "$(id -u)" != "0" ]; then
    echo "tests/lab/INSTALL.sh: not root; skipping the lab's system packages (the lab tests will skip)" >&2
    exit 0
fi

need_apt=0
for tool in nft dnsmasq sipp sshd conntrack busybox ip ssh-keygen tcpdump; do
    if ! PATH="$PATH:/usr/sbin:/sbin" command -v "$tool" >/dev/null 2>&1; then need_apt=1; fi
done

if [ "$need_apt" = "1" ]; then
    export DEBIAN_FRONTEND=noninteractive
    created_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    cleanup() { if [ "$created_policy" = "1" ]; then rm -f /usr/sbin/policy-rc.d; fi; }
    trap cleanup EXIT
    apt-get update -q < /dev/null
    apt-get install -y -q --no-install-recommends \
        nftables dnsmasq-base sip-tester openssh-server openssh-client conntrack busybox iproute2 tcpdump < /dev/null
    if [ -d /run/systemd/system ]; then
        for unit in ssh.service ssh.socket nftables.service; do
            systemctl disable --now "$unit" >/dev/null 2>&1 || true
        done
    fi
fi

if [ -x "$python_bin" ]; then
    if ! "$python_bin" -m pip show -q sipvicious >/dev/null 2>&1; then
        "$python_bin" -m pip install -q sipvicious < /dev/null
    fi
else
    echo "tests/lab/INSTALL.sh: no Python at $python_bin; install sipvicious into the project's venv yourself" >&2
fi
echo "tests/lab/INSTALL.sh: lab tools present"
