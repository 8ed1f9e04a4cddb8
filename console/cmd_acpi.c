/*
 * console/cmd_acpi.c — the `acpi` console command: one record per ACPI table
 * sluice found (CONSOLE.md), `valid=0` added for a table that failed its
 * length or checksum checks.
 */
#include "drivers/acpi.h"
#include "console/console.h"

static int cmd_acpi(int argc, char **argv)
{
	if (argc != 1)
		return cmd_fail(-EINVAL, "usage: acpi (no arguments)");
	for (unsigned i = 0; i < acpi_table_count(); i++) {
		const struct acpi_table_ref *t = acpi_table_at(i);

		con_printf("sig=%s addr=0x%llx len=%u%s\n", t->sig, (unsigned long long)t->addr,
			   t->len, t->valid ? "" : " valid=0");
	}
	return 0;
}

COMMAND(acpi, "acpi", "acpi                       ACPI tables: sig= addr= len=", cmd_acpi);
