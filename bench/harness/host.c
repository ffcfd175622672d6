/* host.c — host facts for the JSON envelope and profiles. */
#define _GNU_SOURCE
#include "host.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

static void cpu_model(char *out, size_t cap)
{
	snprintf(out, cap, "unknown");
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return;
	char line[512];
	while (fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (colon && strncmp(line, "model name", 10) == 0) {
			colon += 1 + (colon[1] == ' ');
			colon[strcspn(colon, "\n")] = '\0';
			snprintf(out, cap, "%s", colon);
			break;
		}
	}
	fclose(f);
}

json_t *kvw_host_facts(void)
{
	json_t *h = json_object();
	char name[256] = "unknown", cpu[256];
	struct utsname u;
	gethostname(name, sizeof name - 1);
	json_object_set_new(h, "hostname", json_string(name));
	if (uname(&u) == 0) {
		json_object_set_new(h, "os", json_string(u.sysname));
		json_object_set_new(h, "kernel", json_string(u.release));
		json_object_set_new(h, "arch", json_string(u.machine));
	}
	cpu_model(cpu, sizeof cpu);
	json_object_set_new(h, "cpu", json_string(cpu));
	json_object_set_new(h, "logical_cpus", json_integer(sysconf(_SC_NPROCESSORS_ONLN)));
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	if (pages > 0 && page > 0)
		json_object_set_new(h, "memory_bytes", json_integer((json_int_t)pages * page));
	return h;
}
