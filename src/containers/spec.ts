/**
 * A declarative container: one YAML file in /etc/keel/containers/, or one entry of
 * cloud-config's `keel.containers`. The supervisor turns each into a systemd unit.
 * (Shape fixed by the foundation issue; the container supervisor issue fills in behaviour.)
 */
export type RestartPolicy = 'no' | 'always' | 'on-failure' | 'unless-stopped';

export interface PublishedPort {
  hostIp?: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp';
}

export interface VolumeMount {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface HealthCheck {
  command: string[];
  intervalSeconds: number;
  timeoutSeconds: number;
  retries: number;
}

/**
 * The confinement switches (docs/security.md). Every default is the locked-down choice;
 * each can be opened per container.
 */
export interface ContainerSecurity {
  /** `--security-opt=no-new-privileges`: setuid binaries and file capabilities give nothing. */
  noNewPrivileges: boolean;
  /** Capabilities kept after dropping all, upper case without `CAP_`, sorted; `['ALL']` keeps every one. */
  capabilities: string[];
  /** `auto`: a user namespace from keel's subordinate range (user `containers`); `host`: none. */
  userns: 'auto' | 'host';
  /** `default` (podman's profile, given explicitly), `unconfined`, or an absolute path to a profile. */
  seccomp: string;
  /** `default`: podman applies its profile by itself where the kernel has AppArmor; `unconfined`: none. */
  apparmor: 'default' | 'unconfined';
  /** `--privileged`: every capability and device, no seccomp, AppArmor or user namespace. */
  privileged: boolean;
}

export interface ContainerSpec {
  name: string;
  image: string;
  command?: string[];
  args: string[];
  environment: Record<string, string>;
  environmentFiles: string[];
  ports: PublishedPort[];
  volumes: VolumeMount[];
  restart: RestartPolicy;
  /** `on-failure:N`: give up after N failures; undefined = unlimited. */
  maxRetries?: number;
  /** First restart delay; doubles per failure up to restartMaxDelaySeconds. */
  restartDelaySeconds: number;
  restartMaxDelaySeconds: number;
  health?: HealthCheck;
  memory?: string;
  cpus?: number;
  pids?: number;
  after: string[];
  requires: string[];
  user?: string;
  /** Read-only root filesystem with tmpfs on /tmp and /run (default true). */
  readOnlyRootfs: boolean;
  network?: string;
  security: ContainerSecurity;
}
