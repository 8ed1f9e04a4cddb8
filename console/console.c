/*
 * console/console.c — the serial console: output, events, the command table
 * and the read-eval loop.  The wire format is ../shared/CONSOLE.md.
 *
 * Output rules kept here: every command gets exactly one status line; event
 * lines ("! ...") never land inside another line.  An event raised in an
 * interrupt handler, or while a partial line is on the wire, is queued and
 * printed at the next line boundary (after a status line, or while idle at
 * the prompt, where the partial input is redrawn after it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/apic.h"
#include "arch/x86/cpu.h"
#include "arch/x86/irq.h"
#include "drivers/uart.h"
#include "hw/hw.h"
#include "console/console.h"
#include "console/lineedit.h"
#include "lib/parse.h"

#define PROMPT "sluice> "
#define MAX_WORDS 32
#define EVQ_LEN 64
#define EV_MAX 204 /* 200 characters of text after a "! " prefix */

extern const struct command __start_sluice_cmds[], __stop_sluice_cmds[];

static bool ready; /* prompt is up: klog lines become events */
static bool at_line_start = true;
static char outbuf[1024];
static char errmsg[256];
static bool errmsg_set;
static struct lineedit le;

static char evq[EVQ_LEN][EV_MAX];
static volatile unsigned ev_head, ev_tail; /* written by producers / the loop */
static unsigned ev_dropped;

static void out(const char *s, size_t n)
{
	if (!n)
		return;
	uart_write(s, n);
	at_line_start = s[n - 1] == '\n';
}

static void vout(const char *fmt, va_list ap)
{
	int n = vsnprintf(outbuf, sizeof(outbuf), fmt, ap);

	if (n < 0)
		return;
	if ((size_t)n >= sizeof(outbuf))
		n = sizeof(outbuf) - 1;
	out(outbuf, (size_t)n);
}

void con_printf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vout(fmt, ap);
	va_end(ap);
}

/* Queued lines carry their prefix ("! " for events, none for a guest's). */
static void ev_queue(const char *prefix, const char *fmt, va_list ap)
{
	bool was = irq_save_disable();
	unsigned t = ev_tail;

	if (t - ev_head >= EVQ_LEN) {
		ev_dropped++;
	} else {
		size_t pl = strlen(prefix);
		memcpy(evq[t % EVQ_LEN], prefix, pl);
		vsnprintf(evq[t % EVQ_LEN] + pl, EV_MAX - pl, fmt, ap);
		ev_tail = t + 1;
	}
	irq_restore(was);
}

/* Prints queued events; only at a line boundary. */
static void ev_drain(void)
{
	while (ev_head != ev_tail) {
		unsigned h = ev_head;
		char line[EV_MAX + 2];
		int n = snprintf(line, sizeof(line), "%s\n", evq[h % EVQ_LEN]);
		ev_head = h + 1;
		out(line, (size_t)n);
	}
	if (ev_dropped) {
		bool was = irq_save_disable();
		unsigned d = ev_dropped;
		ev_dropped = 0;
		irq_restore(was);
		con_printf("! events-dropped count=%u\n", d);
	}
}

/* A line with its prefix ("! " for an event, "" for a plain log line or a
 * guest's line); queued when it cannot go out at a line boundary now. */
static void emit(const char *prefix, const char *fmt, va_list ap)
{
	if (irq_nesting || !at_line_start) {
		ev_queue(prefix, fmt, ap);
		return;
	}
	out(prefix, strlen(prefix));
	vout(fmt, ap);
	out("\n", 1);
}

static void log_emit(enum log_kind kind, const char *fmt, va_list ap)
{
	/* After boot, log lines are events. */
	bool event = kind == LOG_EVENT || (kind == LOG_LINE && ready);
	emit(event ? "! " : "", fmt, ap);
}

const struct log_sink console_log_sink = {.emit = log_emit, .raw = uart_write_raw};

int cmd_fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errmsg, sizeof(errmsg), fmt, ap);
	va_end(ap);
	errmsg_set = true;
	return err;
}

/* Number of leading words of argv that name cmd, or 0. */
static int cmd_match(const struct command *c, int argc, char **argv)
{
	const char *p = c->name;
	int w = 0;

	while (*p) {
		size_t n = strcspn(p, " ");
		if (w >= argc || strlen(argv[w]) != n || strncmp(argv[w], p, n))
			return 0;
		w++;
		p += n;
		while (*p == ' ')
			p++;
	}
	return w;
}

static const struct command *cmd_find(int argc, char **argv)
{
	const struct command *best = NULL;
	int best_words = 0;

	/* __start/__stop bound one linker section: the same object to C. */
	// cppcheck-suppress comparePointers
	for (const struct command *c = __start_sluice_cmds; c < __stop_sluice_cmds; c++) {
		int w = cmd_match(c, argc, argv);
		if (w > best_words) {
			best = c;
			best_words = w;
		}
	}
	return best;
}

static void status(int rc)
{
	if (!at_line_start)
		out("\n", 1);
	if (rc == 0) {
		out("OK\n", 3);
	} else {
		/* no newline or blank-only garbage may end up inside the message */
		for (char *p = errmsg; *p; p++)
			if (*p == '\n' || *p == '\r')
				*p = ' ';
		con_printf("ERR %s %s\n", err_name(rc),
			   errmsg_set && errmsg[0] ? errmsg : "failed");
	}
}

void console_exec(char *line)
{
	char *argv[MAX_WORDS + 1];
	int argc = split_words(line, argv, MAX_WORDS);
	int rc;

	errmsg_set = false;
	errmsg[0] = 0;
	if (argc == 0)
		return;
	if (argc < 0) {
		rc = cmd_fail(-E2BIG, "too many words (at most %d)", MAX_WORDS);
	} else {
		argv[argc] = NULL;
		const struct command *c = cmd_find(argc, argv);
		if (!c)
			rc = cmd_fail(-EINVAL, "unknown command '%.40s' (try help)", argv[0]);
		else
			rc = c->fn(argc, argv);
		if (rc > 0)
			rc = 0;
	}
	status(rc);
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(const struct command *const *)a)->name,
		      (*(const struct command *const *)b)->name);
}

static int cmd_help(int argc, char **argv)
{
	const struct command *list[256];
	size_t n = 0;

	if (argc > 1)
		return cmd_fail(-EINVAL, "usage: help");
	// cppcheck-suppress comparePointers
	for (const struct command *c = __start_sluice_cmds; c < __stop_sluice_cmds && n < 256; c++)
		list[n++] = c;
	qsort(list, n, sizeof(list[0]), by_name);
	con_printf("commands (numbers: decimal or 0x-hex; sizes take K/M/G; bdf as 00:03.0):\n");
	for (size_t i = 0; i < n; i++)
		con_printf("  %s\n", list[i]->usage);
	return 0;
}
COMMAND(help, "help", "help                       this list", cmd_help);

static void prompt(void)
{
	ev_drain();
	out(PROMPT, sizeof(PROMPT) - 1);
}

/* Idle hooks run between input bytes (fault polling and the like). */
#define MAX_IDLE 8
static void (*idle_hooks[MAX_IDLE])(void);

void console_add_idle(void (*fn)(void))
{
	for (int i = 0; i < MAX_IDLE; i++) {
		if (!idle_hooks[i]) {
			idle_hooks[i] = fn;
			return;
		}
	}
}

static bool (*runner)(void);

void console_set_runner(bool (*fn)(void)) { runner = fn; }

void console_run(void)
{
	ready = true;
	out("sluice: ready\n", 14);
	le_reset(&le);
	prompt();
	for (;;) {
		int c = uart_getc();

		if (c < 0) {
			for (int i = 0; i < MAX_IDLE && idle_hooks[i]; i++)
				idle_hooks[i]();
			if (ev_head != ev_tail) {
				/* An event while idle: put it on its own line, then
				 * redraw the prompt and what was typed so far. */
				if (!at_line_start)
					out("\n", 1);
				ev_drain();
				out(PROMPT, sizeof(PROMPT) - 1);
				if (le.len)
					out(le.buf, le.len);
			}
			/* Guests run while the console is idle; a slice ends at
			 * the next host interrupt (the tick at the latest). */
			if (runner && runner())
				continue;
			/* Sleep until the next interrupt: the serial receive
			 * interrupt or the timer tick (10 ms at most).  STI;HLT
			 * has no window: an interrupt pending after STI wakes it. */
			if (apic_timer_hz())
				__asm__ volatile("sti; hlt" ::: "memory");
			else
				cpu_pause();
			continue;
		}
		bool done = le_feed(&le, (unsigned char)c);
		if (le.echo_len)
			out(le.echo, le.echo_len);
		if (!done)
			continue;
		if (le.status != LE_OK) {
			errmsg_set = false;
			if (le.status == LE_TOO_LONG)
				status(cmd_fail(-E2BIG, "%s", le_status_text(le.status)));
			else
				status(cmd_fail(-EINVAL, "%s", le_status_text(le.status)));
		} else {
			console_exec(le.buf);
		}
		le_reset(&le);
		prompt();
	}
}
