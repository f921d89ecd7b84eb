#!/usr/bin/env bash
# Writes the demo's container image as a docker archive (what `podman load` and keel's
# archive reader take): one layer holding Debian's static busybox with its applets and an
# empty /www, serving /www with busybox httpd on port 80. Built with tar and sha256sum alone
# (no podman, no registry) and byte-for-byte reproducible: fixed mtimes, owners and order.
# usage: demo-image.sh OUT.tar [NAME]   (NAME default localhost/keel/demo-web:1; BUSYBOX=path)
set -euo pipefail
out=$1 name=${2:-localhost/keel/demo-web:1}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "demo-image: $busybox is missing (Debian's busybox-static); no demo image" >&2; exit 1; }
# ldd succeeds only on a dynamic executable, which would find no libraries in this image.
! ldd "$busybox" >/dev/null 2>&1 || { echo "demo-image: $busybox is dynamically linked; it would not run in an image without libraries" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/keel-demo-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root/bin" "$root/www" "$root/tmp" "$root/etc"
install -m 0755 "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
chmod 1777 "$root/tmp"
# Only root in passwd and group: httpd runs as the container's root and needs no other user,
# and podman sizes a --userns=auto namespace from the ids an image names.
printf 'root:x:0:0:root:/:/bin/sh\n' > "$root/etc/passwd"
printf 'root:x:0:\n' > "$root/etc/group"
printf '<h1>keel demo</h1>\n<p>no page mounted at /www</p>\n' > "$root/www/index.html"

# The layer, then its digest (the image config names it) and the config's (the manifest names it).
mkdir -p "$work/archive"
ustar() { tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner --format=ustar "$@"; }
ustar -C "$root" -cf "$work/layer.tar" bin etc tmp www
layer=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir -p "$work/archive/$layer"
mv "$work/layer.tar" "$work/archive/$layer/layer.tar"
cat > "$work/config.json" <<JSON
{"architecture":"amd64","os":"linux","created":"1970-01-01T00:00:00Z","config":{"Env":["PATH=/bin"],"Cmd":["httpd","-f","-p","80","-h","/www"],"WorkingDir":"/","ExposedPorts":{"80/tcp":{}},"Labels":{"org.opencontainers.image.title":"keel demo web server","org.opencontainers.image.description":"Debian busybox-static httpd serving /www"}},"rootfs":{"type":"layers","diff_ids":["sha256:$layer"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"keel images/demo-image.sh"}]}
JSON
config=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/archive/$config.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]\n' "$config" "$name" "$layer" > "$work/archive/manifest.json"
ustar -C "$work/archive" -cf "$out.tmp" manifest.json "$config.json" "$layer"
mv "$out.tmp" "$out"
echo "demo-image: $out ($name, $(du -k "$out" | cut -f1) KiB, layer sha256:${layer:0:12})" >&2
