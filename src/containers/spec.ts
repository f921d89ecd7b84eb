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
  readOnlyRootfs: boolean;
  network?: string;
}
