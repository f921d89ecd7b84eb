// Table-driven validation: each case is a cloud-config body (the `#cloud-config` header is
// line 1, so the body starts on line 2) and the exact problems it must produce, in order,
// with severity, path, line, column and a piece of the message.
import { gzipSync } from 'node:zlib';
import { describe, expect, test } from 'vitest';
import { validateCloudConfig } from '../../../src/cloudconfig/validate.js';

type Expect = [severity: 'error' | 'warning', path: string, line: number, column: number, message: string | RegExp];

const doc = (body: string) => `#cloud-config\n${body}\n`;

const cases: [name: string, body: string, expected: Expect[]][] = [
  // top level
  ['hostname of the wrong type', 'hostname: [a]', [['error', 'hostname', 2, 11, 'expected a host name of letters, digits, - and ., found a list']]],
  ['hostname with bad characters', 'hostname: bad_name!', [['error', 'hostname', 2, 11, 'expected a host name of dot-separated labels']]],
  ['hostname given as a number is coerced', 'hostname: 123', [['warning', 'hostname', 2, 11, 'read the number 123 as the string "123"']]],
  ['empty hostname value', 'hostname:', [['warning', 'hostname', 2, 1, 'empty value; expected a host name']]],
  ['manage_etc_hosts other than localhost', 'manage_etc_hosts: true', [['error', 'manage_etc_hosts', 2, 19, 'expected localhost, found "true"']]],
  ['ssh_authorized_keys as a string', 'ssh_authorized_keys: ssh-rsa AAA', [['error', 'ssh_authorized_keys', 2, 22, 'expected a list of ssh public keys, found the string "ssh-rsa AAA"']]],
  ['ssh key that is a mapping', 'ssh_authorized_keys:\n  - {a: 1}', [['error', 'ssh_authorized_keys[0]', 3, 5, 'expected an ssh public key, found a mapping']]],
  ['ssh key without a type', 'ssh_authorized_keys:\n  - AAAAB3NzaC1yc2E core@x', [['warning', 'ssh_authorized_keys[0]', 3, 5, 'this does not look like an ssh public key (type, then base64, then an optional comment); it is installed as given']]],
  ['empty ssh key', 'ssh_authorized_keys:\n  - ""', [['error', 'ssh_authorized_keys[0]', 3, 5, 'expected an ssh public key, found an empty string']]],
  ['user ssh key with options is fine', 'users:\n  - name: a\n    ssh_authorized_keys: [\'from="10.0.0.0/8" ssh-ed25519 AAAAC3Nza a@b\']', []],
  ['timezone of the wrong shape', 'timezone: Mars', [['error', 'timezone', 2, 11, 'expected a time zone such as UTC or Europe/Berlin, found "Mars"']]],
  ['unknown key near a known one', 'hostnme: a', [['warning', 'hostnme', 2, 1, 'unknown key "hostnme"; did you mean "hostname"? ignoring it']]],
  ['unknown key far from any', 'flavour: vanilla', [['warning', 'flavour', 2, 1, 'unknown key "flavour"; ignoring it']]],
  ['a cloud-init module keel does not run', 'packages: [vim]\npackage_update: true', [
    ['warning', 'packages', 2, 1, 'packages is a cloud-init module keel does not run'],
    ['warning', 'package_update', 3, 1, 'package_update is a cloud-init module keel does not run'],
  ]],
  ['duplicate key', 'hostname: a\nhostname: b', [['error', 'hostname', 3, 1, 'duplicate key "hostname" (first at line 2); expected each key once']]],
  ['duplicate key spelled with - and _', 'manage_etc_hosts: localhost\nmanage-etc-hosts: localhost', [['error', 'manage_etc_hosts', 3, 1, 'duplicate key "manage-etc-hosts" (first at line 2)']]],
  ['a list instead of a mapping', '- hostname: a', [['error', '', 2, 1, 'expected a mapping, found a list']]],
  // users
  ['users as a string', 'users: alice', [['error', 'users', 2, 8, 'expected a list of mappings, found the string "alice"']]],
  ['user without a name', 'users:\n  - groups: [a]', [['error', 'users[0]', 3, 5, 'missing required key "name"']]],
  ['groups as a string in the second user', 'users:\n  - name: a\n  - name: b\n    groups: wheel', [['error', 'users[1].groups', 5, 13, 'expected a list of group names, found the string "wheel"']]],
  ['a group that is a mapping', 'users:\n  - name: a\n    groups: [wheel, {x: 1}]', [['error', 'users[0].groups[1]', 4, 21, 'expected a user name of letters, digits, _, . and - (at most 32), found a mapping']]],
  ['user name with a space', 'users:\n  - name: "bad user"', [['error', 'users[0].name', 3, 11, 'expected a user name of letters, digits, _, . and - (at most 32), found "bad user"']]],
  ['relative homedir', 'users:\n  - name: a\n    homedir: home/a', [['error', 'users[0].homedir', 4, 14, 'expected an absolute path, found the relative path "home/a"']]],
  ['relative shell', 'users:\n  - name: a\n    shell: bash', [['error', 'users[0].shell', 4, 12, 'found the relative path "bash"']]],
  ['no_create_home not a boolean', 'users:\n  - name: a\n    no_create_home: maybe', [['error', 'users[0].no_create_home', 4, 21, 'expected true or false, found the string "maybe"']]],
  ['system as "yes" is coerced', 'users:\n  - name: a\n    system: "yes"', [['warning', 'users[0].system', 4, 13, 'read the string "yes" as true; expected true or false']]],
  ['sudo true', 'users:\n  - name: a\n    sudo: true', [['error', 'users[0].sudo', 4, 11, 'expected a sudoers rule, a list of rules or false, found the boolean true']]],
  ['lock_passwd as a number', 'users:\n  - name: a\n    lock_passwd: 1', [['error', 'users[0].lock_passwd', 4, 18, 'expected true or false, found the number 1']]],
  ['plain-text passwd', 'users:\n  - name: a\n    passwd: hunter2', [['warning', 'users[0].passwd', 4, 13, 'passwd does not look like a password hash']]],
  ['misspelt user key with -', 'users:\n  - name: a\n    primary-grup: x', [['warning', 'users[0].primary_grup', 4, 5, 'unknown key "primary-grup"; did you mean "primary_group"? ignoring it']]],
  ['no_user_group and no_log_init wrong types', 'users:\n  - name: a\n    no_user_group: [x]\n    no_log_init: {}', [
    ['error', 'users[0].no_user_group', 4, 20, 'expected true or false, found a list'],
    ['error', 'users[0].no_log_init', 5, 18, 'expected true or false, found a mapping'],
  ]],
  // write_files
  ['relative file path', 'write_files:\n  - path: etc/x', [['error', 'write_files[0].path', 3, 11, 'expected an absolute path, found the relative path "etc/x"']]],
  ['file under /usr', 'write_files:\n  - path: /usr/lib/x', [['error', 'write_files[0].path', 3, 11, 'expected a path outside /usr (the os image is read-only), found "/usr/lib/x"; refusing to write it']]],
  ['file under /usr through ./ and //', 'write_files:\n  - path: /.//usr/x', [['error', 'write_files[0].path', 3, 11, 'expected a path outside /usr']]],
  ['file path with ..', 'write_files:\n  - path: /etc/../usr/x', [['error', 'write_files[0].path', 3, 11, "expected a path without '..'"]]],
  ['file without a path', 'write_files:\n  - content: x', [['error', 'write_files[0]', 3, 5, 'missing required key "path"']]],
  ['bad octal permissions', 'write_files:\n  - path: /etc/x\n    permissions: "0999"', [['error', 'write_files[0].permissions', 4, 18, 'expected an octal mode such as "0644", found "0999"']]],
  ['permissions as a YAML integer', 'write_files:\n  - path: /etc/x\n    permissions: 0644', [['warning', 'write_files[0].permissions', 4, 18, 'read the integer 0644 as octal mode 0644; quote it ("0644") to say so']]],
  ['permissions integer that is not octal', 'write_files:\n  - path: /etc/x\n    permissions: 999', [['error', 'write_files[0].permissions', 4, 18, 'expected an octal mode such as "0644", found the number 999']]],
  ['unknown encoding', 'write_files:\n  - path: /etc/x\n    encoding: base32', [['error', 'write_files[0].encoding', 4, 15, 'expected one of text/plain, plain, b64, base64, gz, gzip, gz+b64, gz+base64, gzip+b64 or gzip+base64, found "base32"']]],
  ['undecodable base64', 'write_files:\n  - path: /etc/x\n    content: "!!!"\n    encoding: b64', [['error', 'write_files[0].content', 4, 14, 'content is not valid base64; expected base64 text because of the encoding; refusing to write it']]],
  ['base64 that is not gzip', 'write_files:\n  - path: /etc/x\n    content: aGVsbG8K\n    encoding: gzip+base64', [['error', 'write_files[0].content', 4, 14, /^content does not gunzip .*; expected gzip data because of the encoding; refusing to write it$/]]],
  ['owner with a space', 'write_files:\n  - path: /etc/x\n    owner: "a b"', [['error', 'write_files[0].owner', 4, 12, 'expected an owner such as root, core or core:core, found "a b"']]],
  ['append not a boolean', 'write_files:\n  - path: /etc/x\n    append: sometimes', [['error', 'write_files[0].append', 4, 13, 'expected true or false, found the string "sometimes"']]],
  ['content given as a number', 'write_files:\n  - path: /etc/x\n    content: 42', [['warning', 'write_files[0].content', 4, 14, 'read "42" as text']]],
  // runcmd / bootcmd
  ['runcmd as a string', 'runcmd: echo hi', [['error', 'runcmd', 2, 9, 'expected a list of commands, found the string "echo hi"']]],
  ['runcmd entry that is a mapping', 'runcmd:\n  - {a: 1}', [['error', 'runcmd[0]', 3, 5, 'expected a command string or a list of words, found a mapping']]],
  ['bootcmd entry that is an empty list', 'bootcmd:\n  - []', [['error', 'bootcmd[0]', 3, 5, 'expected at least 1 item, found 0']]],
  ['runcmd word that is a list, deep', 'runcmd:\n  - [ls, [x]]', [['error', 'runcmd[0][1]', 3, 10, 'expected a string, found a list']]],
  // coreos.units
  ['unit without a name', 'coreos:\n  units:\n    - command: start', [['error', 'coreos.units[0]', 4, 7, 'missing required key "name"']]],
  ['unit name without a valid suffix', 'coreos:\n  units:\n    - name: foo.txt', [['error', 'coreos.units[0].name', 4, 13, 'expected a unit name ending in .service']]],
  ['unit command outside the set', 'coreos:\n  units:\n    - name: a.service\n      command: begin', [['error', 'coreos.units[0].command', 5, 16, 'expected one of start, stop, restart, reload, try-restart, reload-or-restart or reload-or-try-restart, found "begin"']]],
  ['unit command near miss', 'coreos:\n  units:\n    - name: a.service\n      command: restrat', [['error', 'coreos.units[0].command', 5, 16, /found "restrat"; did you mean restart\?$/]]],
  ['unit both masked and enabled', 'coreos:\n  units:\n    - name: a.service\n      mask: true\n      enable: true', [['error', 'coreos.units[0].mask', 5, 13, 'a unit cannot be both masked and enabled']]],
  ['drop-in name without .conf', 'coreos:\n  units:\n    - name: a.service\n      drop_ins:\n        - name: x', [['error', 'coreos.units[0].drop_ins[0].name', 6, 17, 'expected a drop-in name ending in .conf, found "x"']]],
  ['drop-in without a name', 'coreos:\n  units:\n    - name: a.service\n      drop-ins:\n        - content: x', [['error', 'coreos.units[0].drop_ins[0]', 6, 11, 'missing required key "name"']]],
  ['unit runtime as a string', 'coreos:\n  units:\n    - name: a.service\n      runtime: "on"', [['warning', 'coreos.units[0].runtime', 5, 16, 'read the string "on" as true']]],
  // coreos.update / locksmith / etcd2 / oem / deprecated
  ['reboot strategy outside the set', 'coreos:\n  update:\n    reboot-strategy: sometimes', [['error', 'coreos.update.reboot_strategy', 4, 22, 'expected one of etcd-lock, reboot, best-effort or off, found "sometimes"']]],
  ['reboot strategy with _ for -', 'coreos:\n  update:\n    reboot_strategy: etcd_lock', [['error', 'coreos.update.reboot_strategy', 4, 22, 'found "etcd_lock"; did you mean etcd-lock?']]],
  ['update server not a URL', 'coreos:\n  update:\n    server: example.com', [['error', 'coreos.update.server', 4, 13, 'expected a URL such as http://10.0.0.1:2379, found "example.com"']]],
  ['window_start without window_length', 'coreos:\n  locksmith:\n    window_start: Thu 23:00', [['error', 'coreos.locksmith.window_start', 4, 19, 'window_start is set but window_length is not; expected both or neither']]],
  ['window_length without window_start', 'coreos:\n  locksmith:\n    window_length: 1h', [['error', 'coreos.locksmith.window_length', 4, 20, 'window_length is set but window_start is not; expected both or neither']]],
  ['window_start out of range', 'coreos:\n  locksmith:\n    window_start: "25:00"\n    window_length: 1h', [['error', 'coreos.locksmith.window_start', 4, 19, 'expected a window start such as "Thu 23:00" or "04:00", found "25:00"']]],
  ['window too long without a day', 'coreos:\n  locksmith:\n    window_start: "04:00"\n    window_length: 25h', [['error', 'coreos.locksmith.window_length', 5, 20, 'expected a window length under 24h (the start names no day), found "25h"']]],
  ['window_length not a duration', 'coreos:\n  locksmith:\n    window_start: Thu 04:00\n    window_length: long', [['error', 'coreos.locksmith.window_length', 5, 20, 'expected a window length such as 1h30m, found "long"']]],
  ['locksmith endpoint without a scheme', 'coreos:\n  locksmith:\n    endpoint: 127.0.0.1:2379', [['error', 'coreos.locksmith.endpoint', 4, 15, 'expected comma-separated etcd URLs such as http://10.0.0.1:2379, found "127.0.0.1:2379"']]],
  ['locksmith relative cafile', 'coreos:\n  locksmith:\n    etcd_cafile: ca.pem', [['error', 'coreos.locksmith.etcd_cafile', 4, 18, 'found the relative path "ca.pem"']]],
  ['locksmith group with a slash', 'coreos:\n  locksmith:\n    group: a/b', [['error', 'coreos.locksmith.group', 4, 12, 'expected a group name of letters, digits, . and -, found "a/b"']]],
  ['etcd2 key that is not a flag name', 'coreos:\n  etcd2:\n    "bad key": x', [['error', 'coreos.etcd2.bad key', 4, 5, 'expected a key that is an etcd flag name such as advertise_client_urls, found "bad key"']]],
  ['etcd2 value that is a list', 'coreos:\n  etcd2:\n    name: [a]', [['error', 'coreos.etcd2.name', 4, 11, 'expected a string, found a list']]],
  ['coreos.etcd (v1) is deprecated', 'coreos:\n  etcd:\n    name: a', [['warning', 'coreos.etcd', 3, 3, 'coreos.etcd (etcd v1) is not supported by keel (use coreos.etcd2 or keel.etcd); ignoring it']]],
  ['coreos.fleet is deprecated', 'coreos:\n  fleet:\n    metadata: a=b', [['warning', 'coreos.fleet', 3, 3, 'coreos.fleet is not supported by keel']]],
  ['coreos.flannel is not supported', 'coreos:\n  flannel:\n    interface: eth0', [['warning', 'coreos.flannel', 3, 3, 'coreos.flannel is not supported by keel']]],
  ['unknown oem key', 'coreos:\n  oem:\n    id: x\n    homepage: y', [['warning', 'coreos.oem.homepage', 5, 5, 'unknown key "homepage"; ignoring it']]],
  // keel.update
  ['keel.update window without length', 'keel:\n  update:\n    window-start: "03:00"', [['error', 'keel.update.window_start', 4, 19, 'window_start is set but window_length is not']]],
  ['check_interval not a duration', 'keel:\n  update:\n    check_interval: soon', [['error', 'keel.update.check_interval', 4, 21, 'expected a duration such as 90s, 10m or 1h30m, found "soon"']]],
  ['check_interval too short', 'keel:\n  update:\n    check_interval: 10s', [['error', 'keel.update.check_interval', 4, 21, 'expected a duration of at least 1m, found "10s"']]],
  ['rollout_wariness above 1', 'keel:\n  update:\n    rollout_wariness: 1.5', [['error', 'keel.update.rollout_wariness', 4, 23, 'expected a number from 0 to 1, found 1.5']]],
  ['boot_tries of 0', 'keel:\n  update:\n    boot_tries: 0', [['error', 'keel.update.boot_tries', 4, 17, 'expected an integer from 1 to 10, found 0']]],
  ['boot_tries not whole', 'keel:\n  update:\n    boot_tries: 2.5', [['error', 'keel.update.boot_tries', 4, 17, 'expected an integer from 1 to 10, found the number 2.5']]],
  ['weekly window without days', 'keel:\n  update:\n    windows:\n      - start: "04:00"\n        length: 1h', [['error', 'keel.update.windows[0]', 5, 9, 'missing required key "days"']]],
  ['weekly window with a bad day', 'keel:\n  update:\n    windows:\n      - days: [mon, funday]\n        start: "04:00"\n        length: 1h', [['error', 'keel.update.windows[0].days[1]', 5, 21, 'expected a day such as mon or tuesday, found "funday"']]],
  ['weekly window start without leading zero', 'keel:\n  update:\n    windows:\n      - days: [mon]\n        start: "4:30"\n        length: 1h', [['error', 'keel.update.windows[0].start', 6, 16, 'expected a start time HH:MM such as 04:30, found "4:30"']]],
  ['weekly window length too long', 'keel:\n  update:\n    windows:\n      - days: [mon]\n        start: "04:30"\n        length: 8d', [['error', 'keel.update.windows[0].length', 7, 17, 'expected a duration of at most 7d, found "8d"']]],
  ['postpone_while_logged_in not a boolean', 'keel:\n  update:\n    postpone_while_logged_in: sure', [['error', 'keel.update.postpone_while_logged_in', 4, 31, 'expected true or false, found the string "sure"']]],
  // keel.lock
  ['lock endpoint that is not a URL', 'keel:\n  lock:\n    endpoints: [etcd:2379]', [['error', 'keel.lock.endpoints[0]', 4, 17, 'expected a URL such as http://10.0.0.1:2379, found "etcd:2379"']]],
  ['lock endpoints as one URL is read as a list', 'keel:\n  lock:\n    endpoints: http://127.0.0.1:2379', [['warning', 'keel.lock.endpoints', 4, 16, 'reading it as a list of one']]],
  ['max_hold not a duration', 'keel:\n  lock:\n    max_hold: forever', [['error', 'keel.lock.max_hold', 4, 15, 'expected a duration such as 90s, 10m or 1h30m, found "forever"']]],
  ['fleetlock_url not a URL', 'keel:\n  lock:\n    fleetlock_url: lock-server', [['error', 'keel.lock.fleetlock_url', 4, 20, 'expected a URL']]],
  ['keel.lock window_length alone', 'keel:\n  lock:\n    window_length: 2h', [['error', 'keel.lock.window_length', 4, 20, 'window_length is set but window_start is not']]],
  // keel.units / etcd
  ['keel unit with a bad name', 'keel:\n  units:\n    - name: web', [['error', 'keel.units[0].name', 4, 13, 'expected a unit name ending in .service']]],
  ['keel.etcd as a list', 'keel:\n  etcd: [a]', [['error', 'keel.etcd', 3, 9, 'expected a mapping, found a list']]],
  // keel.containers
  ['container without an image', 'keel:\n  containers:\n    specs:\n      - name: web', [['error', 'keel.containers.specs[0]', 5, 9, 'missing required key "image"']]],
  ['container name in capitals', 'keel:\n  containers:\n    specs:\n      - name: Web\n        image: nginx', [['error', 'keel.containers.specs[0].name', 5, 15, 'expected a container name of lowercase letters, digits, ., _ and - (at most 63), found "Web"']]],
  ['port out of range', 'keel:\n  containers:\n    specs:\n      - name: web\n        image: nginx\n        ports: ["99999:80"]', [['error', 'keel.containers.specs[0].ports[0]', 7, 17, 'with ports 1-65535, found "99999:80"']]],
  ['port mapping without container_port', 'keel:\n  containers:\n    specs:\n      - name: web\n        image: nginx\n        ports: [{host_port: 80}]', [['error', 'keel.containers.specs[0].ports[0]', 7, 17, 'missing required key "container_port"']]],
  ['volume with a relative target', 'keel:\n  containers:\n    specs:\n      - name: web\n        image: nginx\n        volumes: ["/a:b"]', [['error', 'keel.containers.specs[0].volumes[0]', 7, 19, 'found "/a:b"']]],
  ['restart policy outside the set', 'keel:\n  containers:\n    specs:\n      - name: web\n        image: nginx\n        restart: sometimes', [['error', 'keel.containers.specs[0].restart', 7, 18, 'expected no, always, on-failure, on-failure:N or unless-stopped, found "sometimes"']]],
  ['restart_delay not a duration', 'keel:\n  containers:\n    specs:\n      - name: web\n        image: nginx\n        restart_delay: fast', [['error', 'keel.containers.specs[0].restart_delay', 7, 24, 'expected a duration such as 90s']]],
  ['restart_max_delay below restart_delay', 'keel:\n  containers:\n    specs:\n      - name: web\n        image: nginx\n        restart_delay: 10s\n        restart_max_delay: 5s', [['error', 'keel.containers.specs[0].restart_max_delay', 8, 28, 'expected restart_max_delay (5s) to be at least restart_delay (10s)']]],
  ['memory not a size', 'keel:\n  containers:\n    specs:\n      - name: web\n        image: nginx\n        memory: lots', [['error', 'keel.containers.specs[0].memory', 7, 17, 'expected a memory size such as 512M or 2G, found "lots"']]],
  ['environment variable name with a dash', 'keel:\n  containers:\n    specs:\n      - name: web\n        image: nginx\n        environment:\n          my-var: 1', [['error', 'keel.containers.specs[0].environment.my-var', 8, 11, 'expected a key that is an environment variable name, found "my-var"']]],
  ['environment list entry without =', 'keel:\n  containers:\n    specs:\n      - name: web\n        image: nginx\n        environment: [A=1, B]', [['error', 'keel.containers.specs[0].environment[1]', 7, 28, 'expected NAME=VALUE with a variable name of letters, digits and _, found "B"']]],
  ['cpus not positive', 'keel:\n  containers:\n    specs:\n      - name: web\n        image: nginx\n        cpus: 0', [['error', 'keel.containers.specs[0].cpus', 7, 15, 'expected a number of at least 0.01, found 0']]],
  ['two containers with one name', 'keel:\n  containers:\n    specs:\n      - {name: web, image: a}\n      - {name: web, image: b}', [['error', 'keel.containers.specs[1].name', 6, 16, 'two containers are named "web"; expected unique names']]],
  ['duplicate names after an unreadable spec are reported at the list', 'keel:\n  containers:\n    specs:\n      - {name: Bad, image: a}\n      - {name: web, image: a}\n      - {name: web, image: b}', [
    ['error', 'keel.containers.specs', 5, 7, 'two containers are named "web"; expected unique names'],
    ['error', 'keel.containers.specs[0].name', 5, 16, 'expected a container name of lowercase letters'],
  ]],
  ['container after itself', 'keel:\n  containers:\n    specs:\n      - name: web\n        image: nginx\n        after: [web]', [['error', 'keel.containers.specs[0].after', 7, 16, 'a container cannot depend on itself ("web")']]],
  ['health check without a command', 'keel:\n  containers:\n    specs:\n      - name: web\n        image: nginx\n        health:\n          interval: 10s', [['error', 'keel.containers.specs[0].health', 8, 11, 'missing required key "command"']]],
  ['discovery endpoint not a URL', 'keel:\n  containers:\n    discovery_endpoints: [etcd]', [['error', 'keel.containers.discovery_endpoints[0]', 4, 27, 'expected a URL']]],
  ['dependency on a container not in the list', 'keel:\n  containers:\n    specs:\n      - name: web\n        image: nginx\n        requires: [db]', [['warning', 'keel.containers.specs[0].requires', 7, 19, 'container "web" depends on "db", which is not among these specs']]],
  // keel: over coreos:
  ['keel.update overriding coreos.update', 'coreos:\n  update:\n    group: stable\n    server: http://a\nkeel:\n  update:\n    group: beta\n    server: http://a', [['warning', 'keel.update.group', 8, 12, 'overrides "stable" from coreos.update; keel: wins']]],
  ['keel.lock overriding coreos.locksmith', 'coreos:\n  locksmith:\n    endpoint: http://a:2379\nkeel:\n  lock:\n    endpoints: [http://b:2379]', [['warning', 'keel.lock.endpoints', 7, 16, 'overrides ["http://a:2379"] from coreos.locksmith; keel: wins']]],
  ['keel.etcd overriding coreos.etcd2', 'coreos:\n  etcd2:\n    name: a\nkeel:\n  etcd:\n    name: b', [['warning', 'keel.etcd.name', 7, 11, 'overrides "a" from coreos.etcd2; keel: wins']]],
  // YAML itself
  ['yaml syntax error: unclosed flow list', 'hostname: [a', [['error', '', 3, 1, /^yaml syntax: /]]],
  ['yaml syntax error: tab indentation', 'users:\n\t- name: a', [['error', '', 3, 1, /^yaml syntax: tabs are not allowed as indentation/]]],
  ['yaml syntax error: bad indentation of a mapping', 'coreos:\n  update:\n    group: a\n   server: b', [['error', '', 5, 1, 'yaml syntax: all mapping items must start at the same column']]],
];

describe('validateCloudConfig problems', () => {
  test.each(cases)('%s', (_name, body, expected) => {
    const { config, problems } = validateCloudConfig(doc(body));
    const got = problems.map((p) => [p.severity, p.path, p.line, p.column, p.message]);
    expect(got.length, JSON.stringify(got)).toBe(expected.length);
    expected.forEach(([severity, path, line, column, message], i) => {
      expect(got[i]!.slice(0, 4), JSON.stringify(got[i])).toEqual([severity, path, line, column]);
      if (typeof message === 'string') expect(got[i]![4]).toContain(message);
      else expect(got[i]![4]).toMatch(message);
    });
    if (expected.some((e) => e[0] === 'error')) expect(config).toBeUndefined();
    else expect(config).toBeDefined();
  });
});

describe('validateCloudConfig whole-document refusals', () => {
  test('a missing header is a bad header at 1:1', () => {
    const r = validateCloudConfig('hostname: a\n');
    expect(r.config).toBeUndefined();
    expect(r.problems).toEqual([{ severity: 'error', path: '', line: 1, column: 1, message: 'bad header: the first line is "hostname: a"; expected #cloud-config' }]);
  });

  test('an alias bomb is refused with an error, not expanded', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (const [i, n] of ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j'].entries()) bomb.push(`${n}: &${n} [${Array(10).fill(`*${'abcdefghij'[i]}`).join(', ')}]`);
    bomb.push('runcmd: *j');
    const r = validateCloudConfig(doc(bomb.join('\n')));
    expect(r.config).toBeUndefined();
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ severity: 'error', path: '', line: 7 });
    expect(r.problems[0]!.message).toBe('aliases expand the document to more than 200000 nodes (an alias bomb?); expected at most 200000; refusing to read it');
  });

  test('a document over 1 MiB is refused before parsing', () => {
    const r = validateCloudConfig(doc(`write_files:\n  - path: /etc/big\n    content: ${'x'.repeat(1024 * 1024)}`));
    expect(r.config).toBeUndefined();
    expect(r.problems).toEqual([{ severity: 'error', path: '', line: 0, column: 0, message: expect.stringMatching(/^the document is \d+ bytes; expected at most 1048576; refusing to read it$/) }]);
  });

  test('decoded file content over 16 MiB is refused', () => {
    const gz = gzipSync(Buffer.alloc(17 * 1024 * 1024)).toString('base64');
    const r = validateCloudConfig(doc(`write_files:\n  - path: /etc/big\n    encoding: gz+b64\n    content: ${gz}`));
    expect(r.config).toBeUndefined();
    expect(r.problems).toMatchObject([{ severity: 'error', path: 'write_files[0].content', line: 5, column: 14, message: 'content decompresses to more than 16777216 bytes; expected at most that; refusing to write it' }]);
  });

  test('a rule list of many problems reports every one, in document order', () => {
    const r = validateCloudConfig(doc('hostname: [a]\nusers: x\ntimezone: Mars\nfoo: 1'));
    expect(r.problems.map((p) => `${p.line}:${p.column}:${p.severity}`)).toEqual(['2:11:error', '3:8:error', '4:11:error', '5:1:warning']);
  });
});
