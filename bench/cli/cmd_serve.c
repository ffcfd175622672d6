/* cmd_serve.c — kvwall serve: the receiving end of the tcp probe on another
 * host or namespace (netprobe/tcp.c does the serving). */
#include "cmds.h"
#include "tcp.h"

static const kvw_opt serve_opts[] = {
	{ "bind", KVW_OPT_STR, KVW_ARG(bind), "127.0.0.1", 0, 0, "IPv4 address to listen on" },
	{ "port", KVW_OPT_LONG, KVW_ARG(port), "5201", 1, 65535, "TCP port" },
	{ "idle-timeout", KVW_OPT_LONG, KVW_ARG(idle_s), "0", 0, 86400, "stop after this many seconds with no client (0: never)" },
	KVW_OPT_END,
};

static kvw_err run_serve(const kvw_args *a, int argc, char **argv, kvw_diag *d)
{
	(void)argc, (void)argv;
	return kvw_tcp_serve(a->bind, (int)a->port, (int)a->idle_s, d);
}

const kvw_cmd kvw_cmd_serve = {
	"serve", "[--bind ADDR] [--port P] [--idle-timeout S]",
	"the receiving end of the tcp probe on another host or namespace (kvwall probe tcp --peer ADDR:PORT)",
	serve_opts, 0, run_serve,
};
