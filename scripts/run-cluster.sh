#!/usr/bin/env bash
# Three keel hosts in qemu that form their own etcd cluster, as test/e2e/cluster.test.ts sets
# them up, by hand (images/README.md, "A three-host cluster by hand"). Each host boots a fresh
# copy-on-write overlay of build/keel.img through OVMF + systemd-boot (updates need its boot
# counting) with its own NoCloud seed, and gets two NICs: qemu's user-mode one (SSH forwarded to
# 127.0.0.1) and one on a private L2 segment, qemu's multicast socket bound to 127.0.0.1, where
# it has a static address (10.77.0.11-13) from a networkd file its cloud-config writes. The
# cloud-configs give each an etcd member of one static three-member cluster with client and
# peer TLS (a CA and a certificate per member made here with openssl) and the `web` container
# of the demo, which announces itself in that etcd. The guests run in the background; their
# consoles go to $dir/keel-N.log.
#   scripts/run-cluster.sh          start the three (again from first boot)
#   scripts/run-cluster.sh stop     stop them
#   KEEL_CLUSTER_MEM_MIB=N  memory per host (default 768)   KEEL_CLUSTER_DIR=D  state (default .cache/run-cluster)
#   KEEL_CLUSTER_MCAST=G:P  the segment's group and port (default 239.255.77.1:41077; pick another per cluster)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${KEEL_CLUSTER_DIR:-.cache/run-cluster}
mcast=${KEEL_CLUSTER_MCAST:-239.255.77.1:41077}
subnet=10.77.0
mkdir -p "$dir"

stop() {
  for pid in "$dir"/keel-*.pid; do
    [ -f "$pid" ] || continue
    kill "$(cat "$pid")" 2>/dev/null || true
    rm -f "$pid"
  done
}
if [ "${1:-}" = stop ]; then stop; echo "== stopped"; exit 0; fi
stop
[ -f build/keel.img ] || make image

[ -f "$dir/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C keel-cluster -f "$dir/id_ed25519"
ssl() { openssl "$@" 2>/dev/null; }
if [ ! -f "$dir/ca.pem" ]; then
  ssl req -x509 -newkey rsa:2048 -nodes -days 365 -subj '/CN=keel cluster CA' -keyout "$dir/ca.key" -out "$dir/ca.pem"
fi
cluster=keel-1=https://$subnet.11:2380,keel-2=https://$subnet.12:2380,keel-3=https://$subnet.13:2380
indent() { sed 's/^/      /' "$1"; }

# A free port on 127.0.0.1 for each host's SSH.
free_port() { node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }

for i in 1 2 3; do
  name=keel-$i addr=$subnet.$((10 + i)) mac=52:54:01:77:01:0$i
  if [ ! -f "$dir/$name.pem" ]; then
    # Server and client usage: the member serves clients and peers, and keel on the host presents it to its member.
    ssl req -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout "$dir/$name.key" -out "$dir/$name.csr"
    printf 'subjectAltName=IP:%s,IP:127.0.0.1,DNS:%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$addr" "$name" > "$dir/$name.ext"
    ssl x509 -req -in "$dir/$name.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial -days 365 -out "$dir/$name.pem" -extfile "$dir/$name.ext"
  fi
  mkdir -p "$dir/$name-seed"
  cat > "$dir/$name-seed/user-data" <<EOF
#cloud-config
hostname: $name
ssh_authorized_keys:
  - $(cat "$dir/id_ed25519.pub")
write_files:
  - path: /etc/systemd/network/20-segment.network
    content: |
      [Match]
      MACAddress=$mac
      [Network]
      Address=$addr/24
      LinkLocalAddressing=no
      IPv6AcceptRA=no
  - path: /etc/etcd/tls/ca.pem
    content: |
$(indent "$dir/ca.pem")
  - path: /etc/etcd/tls/member.pem
    owner: etcd:etcd
    content: |
$(indent "$dir/$name.pem")
  - path: /etc/etcd/tls/member-key.pem
    owner: etcd:etcd
    permissions: "0600"
    content: |
$(indent "$dir/$name.key")
  - path: /etc/web/index.html
    permissions: "0644"
    content: |
      <h1>keel cluster: $name</h1>
keel:
  etcd:
    name: $name
    initial_cluster: $cluster
    initial_cluster_state: new
    initial_cluster_token: keel-run-cluster
    initial_advertise_peer_urls: https://$addr:2380
    listen_peer_urls: https://$addr:2380
    listen_client_urls: https://$addr:2379,https://127.0.0.1:2379
    advertise_client_urls: https://$addr:2379
    cert_file: /etc/etcd/tls/member.pem
    key_file: /etc/etcd/tls/member-key.pem
    trusted_ca_file: /etc/etcd/tls/ca.pem
    client_cert_auth: "true"
    peer_cert_file: /etc/etcd/tls/member.pem
    peer_key_file: /etc/etcd/tls/member-key.pem
    peer_trusted_ca_file: /etc/etcd/tls/ca.pem
    peer_client_cert_auth: "true"
    # One emulated vCPU per host: slower raft timings than etcd's 100/1000 ms.
    heartbeat_interval: "200"
    election_timeout: "2000"
  update:
    reboot_strategy: etcd-lock
  containers:
    specs:
      - name: web
        image: localhost/keel/demo-web:1
        command: [httpd, -f, -p, "80", -h, /www]
        ports: ["8080:80"]
        volumes: ["/etc/web:/www:ro"]
        restart: always
EOF
  printf 'instance-id: run-cluster-%s-%s\nlocal-hostname: %s\n' "$name" "$(date +%s)" "$name" > "$dir/$name-seed/meta-data"
  rm -f "$dir/$name-seed.iso"
  genisoimage -quiet -output "$dir/$name-seed.iso" -volid cidata -joliet -rock "$dir/$name-seed/user-data" "$dir/$name-seed/meta-data"
  rm -f "$dir/$name.qcow2"
  qemu-img create -q -f qcow2 -b "$PWD/build/keel.img" -F raw "$dir/$name.qcow2" 4096M
  cp /usr/share/OVMF/OVMF_VARS.fd "$dir/$name-vars.fd"
  port=$(free_port)
  echo "$port" > "$dir/$name.ssh-port"
  qemu-system-x86_64 -accel tcg -machine q35 -cpu max -m "${KEEL_CLUSTER_MEM_MIB:-768}" -smp 1 \
    -nodefaults -display none -device virtio-rng-pci -daemonize -pidfile "$dir/$name.pid" \
    -serial "file:$dir/$name.log" \
    -drive "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE.fd" \
    -drive "if=pflash,format=raw,unit=1,file=$dir/$name-vars.fd" \
    -drive "file=$dir/$name.qcow2,format=qcow2,if=none,id=disk0" -device virtio-blk-pci,drive=disk0 \
    -drive "file=$dir/$name-seed.iso,format=raw,if=none,id=seed,readonly=on" -device virtio-blk-pci,drive=seed,serial=cidata \
    -netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$port-:22" -device virtio-net-pci,netdev=net0 \
    -netdev "socket,id=seg0,mcast=$mcast,localaddr=127.0.0.1" -device "virtio-net-pci,netdev=seg0,mac=$mac"
  echo "== $name ($addr): ssh -i $dir/id_ed25519 -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -p $port core@127.0.0.1   console: $dir/$name.log"
done
cat <<MSG
== the three boot at once (a few minutes under TCG); each prints 'keel-boot: ready' on its console. Then, on any host:
==   sudo keel containers endpoints web      (three endpoints, one per host's segment address)
==   sudo keel lock status                   (the reboot lock, on the host's own member)
==   sudo keel fleet status
== stop them: scripts/run-cluster.sh stop
MSG
