/*
 * console/cmd_power.c — poweroff and reboot.  Poweroff enters ACPI S5
 * (SLP_TYP from the DSDT's \_S5_); reboot uses the FADT reset register,
 * then the PCI reset port 0xCF9, then the keyboard controller.
 */
#include "drivers/acpi.h"
#include "drivers/uart.h"
#include "hw/hw.h"
#include "console/console.h"
#include "kernel/time.h"

static int cmd_poweroff(int argc, char **argv)
{
	int rc;

	if (argc != 1)
		return cmd_fail(-EINVAL, "usage: poweroff");
	con_printf("poweroff: entering ACPI S5\n");
	rc = acpi_poweroff();
	udelay(100000);
	return cmd_fail(rc ? rc : -EIO, "machine did not power off (%s)", err_name(rc));
}
COMMAND(poweroff, "poweroff", "poweroff                   turn the machine off (ACPI S5)",
	cmd_poweroff);

static int cmd_reboot(int argc, char **argv)
{
	if (argc != 1)
		return cmd_fail(-EINVAL, "usage: reboot");
	con_printf("reboot: resetting\n");
	if (acpi_reset() == 0)
		udelay(100000);
	outb(0xcf9, 0x02); /* PCI reset control: hard reset */
	udelay(1000);
	outb(0xcf9, 0x06);
	udelay(100000);
	for (int i = 0; i < 1000 && (inb(0x64) & 0x02); i++)
		udelay(10);
	outb(0x64, 0xfe); /* keyboard controller pulse reset line */
	udelay(100000);
	return cmd_fail(-EIO, "machine did not reset");
}
COMMAND(reboot, "reboot", "reboot                     reset the machine", cmd_reboot);
