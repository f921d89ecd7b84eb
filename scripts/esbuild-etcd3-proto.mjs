// esbuild plugin: etcd3 reads its gRPC definitions at run time from `${__dirname}/../proto`,
// which neither the ESM bundle (no __dirname) nor the single executable (no node_modules)
// has. This parses the .proto files at build time with protobufjs and embeds them as JSON,
// loaded with @grpc/proto-loader's fromJSON and the same options etcd3 passes.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const etcd3ProtoPlugin = {
  name: 'etcd3-proto',
  setup(build) {
    build.onLoad({ filter: /etcd3[\\/]lib[\\/]connection-pool\.js$/ }, async (args) => {
      const source = await readFile(args.path, 'utf8');
      const protobuf = require('protobufjs');
      const root = new protobuf.Root();
      root.loadSync(require.resolve('etcd3/proto/rpc.proto'), { keepCase: true });
      const pattern = /\(0, proto_loader_1\.loadSync\)\(`\$\{__dirname\}\/\.\.\/proto\/rpc\.proto`, \{/;
      if (!pattern.test(source)) throw new Error('etcd3-proto: the loadSync call in etcd3/lib/connection-pool.js changed; update scripts/esbuild-etcd3-proto.mjs');
      const contents = source.replace(pattern, `(0, proto_loader_1.fromJSON)(${JSON.stringify(root.toJSON())}, {`);
      return { contents, loader: 'js' };
    });
  },
};
