/**
 * dfdaemon's flags: the commander definition main.ts parses and `npm run build` writes the help
 * of (transport/write-help.ts).
 */
import { Command, Option } from 'commander';
import { withHelpWidth } from '../cli-help.ts';

export function buildProgram(): Command {
  return withHelpWidth(new Command('dfdaemon')
    .description('Registry mirror for Docker, containerd, podman and skopeo: image layers travel P2P through small-dragonfly supernodes.')
    .option('--port <port>', 'port to listen on (default 65001)')
    .option('--host <addr>', 'address to listen on (default 127.0.0.1)')
    .option('--registry <url>', 'upstream registry, http:// or https:// (e.g. https://registry.example:5000)')
    .option('--insecure', 'accept any TLS certificate from the upstream registry (testing only)')
    .option('--cacert <file>', 'PEM file of the CA that signed the upstream registry certificate')
    .option('--node <list>', 'supernodes host:port[,host:port...] (default 127.0.0.1:8002)')
    .option('--manager <url,...>', 'managing node(s) that assign this host its supernodes (instead of --node), e.g. http://10.0.0.9:8004')
    .option('--idc <name>', 'data centre of this host, told to the manager and the supernode (near sources first)')
    .option('--location <a|b|c>', 'location of this host, widest level first, e.g. cn|hangzhou|rack-7 (told to the manager and the supernode)')
    .option('--repo-max <size|N%>', 'size limit of the local repo: least recently pulled blobs not being served go first (default 90% of its filesystem)')
    .option('--data-max <size|N%>', 'size limit of <home>/data, where P2P downloads land and are served from (default 90% of its filesystem)')
    .option('--localrepo <dir>', 'where pulled blobs are kept (default <home>/dfdaemon/data)')
    .option('--home <dir>', 'small-dragonfly home: data, logs, meta (default ~/.small-dragonfly)')
    .option('--config <file>', 'YAML file with these settings and extra upstream registries (see README)')
    .option('--no-fallback', 'fail a blob when P2P fails instead of pulling it straight from the registry')
    .option('--locallimit <rate>', 'receive limit per blob, e.g. 20MB/s (default 0 = unlimited)')
    .option('--totallimit <rate>', 'receive and upload limit of this node, e.g. 100MB/s (default 0 = unlimited)')
    .option('--timeout <duration>', 'give up on a P2P blob after this long, e.g. 10min (default 10min)')
    .addOption(new Option('--advertise-ip <ip>', 'address other peers reach this node\'s uploader at').default('127.0.0.1'))
    .showHelpAfterError());
}
