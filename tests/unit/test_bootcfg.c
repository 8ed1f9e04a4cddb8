// SOURCES: lib/bootcfg.c
/* tests/unit/test_bootcfg.c — sluice.cfg: boot arguments before the first
 * [image] section, the sections' keys, every error, line ends. */
#include <stdlib.h>
#include <string.h>

#include "lib/bootcfg.h"
#include "test.h"

static struct bootcfg cfg;

static void parse(const char *text) { bootcfg_parse(text, strlen(text), &cfg); }

static const struct bootcfg_image *img(const char *name)
{
	for (unsigned i = 0; i < cfg.nimages; i++)
		if (!strcmp(cfg.images[i].name, name))
			return &cfg.images[i];
	return NULL;
}

/* One error, err at line, and no image kept. */
static void check_one_error(const char *text, enum bootcfg_error err, unsigned line)
{
	parse(text);
	CHECK_EQ(cfg.nimages, 0);
	CHECK_EQ(cfg.nerrors, 1);
	CHECK_EQ(cfg.errors[0].err, err);
	CHECK_EQ(cfg.errors[0].line, line);
	if (cfg.nerrors != 1 || cfg.errors[0].err != err)
		fprintf(stderr, "  for text: %s\n", text);
}

TEST(bootcfg_args_only)
{
	const char *t = "allow_unsafe_interrupts # comment\nheap_order=14\n[imagefoo]\n";
	parse(t);
	CHECK_EQ(cfg.args_len, strlen(t)); /* all of it is boot arguments */
	CHECK_EQ(cfg.nimages, 0);
	CHECK_EQ(cfg.nerrors, 0);
	parse("");
	CHECK_EQ(cfg.args_len, 0);
	CHECK_EQ(cfg.nimages, 0);
}

TEST(bootcfg_args_then_images)
{
	const char *t = "allow_unsafe_interrupts\n"
			"nodisconnect\n"
			"  [image linux]\n"
			"kernel=/EFI/linux/vmlinuz\n"
			"initrd = \\EFI\\linux\\initrd.img \n"
			"cmdline= console=ttyS0  quiet\tpanic=-1 root=#x \n"
			"\n"
			"[image  tiny-1.0_b ]\n"
			"# only a kernel\n"
			"   # indented comment\n"
			"kernel=k\n";
	parse(t);
	CHECK_EQ(cfg.args_len, strstr(t, "  [image linux]") - t);
	CHECK_EQ(cfg.nerrors, 0);
	CHECK_EQ(cfg.nimages, 2);
	const struct bootcfg_image *a = img("linux"), *b = img("tiny-1.0_b");
	CHECK(a && b);
	if (!a || !b)
		return;
	CHECK(!strcmp(a->kernel, "\\EFI\\linux\\vmlinuz"));
	CHECK(!strcmp(a->initrd, "\\EFI\\linux\\initrd.img"));
	CHECK(!strcmp(a->cmdline, "console=ttyS0  quiet panic=-1 root=#x"));
	CHECK_EQ(a->line, 3);
	CHECK(!strcmp(b->kernel, "\\k"));
	CHECK(!strcmp(b->initrd, ""));
	CHECK(!strcmp(b->cmdline, ""));
	CHECK_EQ(b->line, 8);
	CHECK(cfg.images[0].name == a->name); /* file order */
}

TEST(bootcfg_paths_normalised)
{
	parse("[image a]\nkernel=//EFI\\/linux//vmlinuz\ninitrd=x/y\n");
	CHECK_EQ(cfg.nimages, 1);
	CHECK(!strcmp(cfg.images[0].kernel, "\\EFI\\linux\\vmlinuz"));
	CHECK(!strcmp(cfg.images[0].initrd, "\\x\\y"));
	parse("[image a]\nkernel=dir with blanks/file name\n");
	CHECK_EQ(cfg.nimages, 1);
	CHECK(!strcmp(cfg.images[0].kernel, "\\dir with blanks\\file name"));
}

TEST(bootcfg_crlf_and_no_trailing_newline)
{
	parse("quiet\r\n[image a]\r\nkernel=/k\r\ncmdline=x y\r\n\r\n[image b]\r\nkernel=/b\r\nbogus");
	CHECK_EQ(cfg.args_len, 7);
	CHECK_EQ(cfg.nimages, 1);
	CHECK(img("a") && !strcmp(img("a")->kernel, "\\k") && !strcmp(img("a")->cmdline, "x y"));
	CHECK_EQ(cfg.nerrors, 1);
	CHECK_EQ(cfg.errors[0].err, BOOTCFG_ESYNTAX);
	CHECK_EQ(cfg.errors[0].line, 8); /* CRLF counts once */
	CHECK(!strcmp(cfg.errors[0].name, "b"));

	parse("[image a]\nkernel=/k"); /* no newline at the end */
	CHECK_EQ(cfg.nimages, 1);
	CHECK(!strcmp(cfg.images[0].kernel, "\\k"));
	parse("[image a]\rkernel=/k\rinitrd=/i\r"); /* CR alone ends a line too */
	CHECK_EQ(cfg.nimages, 1);
	CHECK(!strcmp(cfg.images[0].initrd, "\\i"));
	parse("x\n\n\r\n[image a]\n\n[image"); /* LF CR LF: two line ends */
	CHECK_EQ(cfg.nerrors, 2);
	CHECK_EQ(cfg.errors[0].err, BOOTCFG_ENOKERNEL);
	CHECK_EQ(cfg.errors[0].line, 4);
	CHECK_EQ(cfg.errors[1].err, BOOTCFG_EHEADER);
	CHECK_EQ(cfg.errors[1].line, 6);
}

TEST(bootcfg_header_errors)
{
	check_one_error("[image]\nkernel=k\n", BOOTCFG_ENAME, 1);
	check_one_error("[image  ]\nkernel=k\n", BOOTCFG_ENAME, 1);
	check_one_error("[image a b]\nkernel=k\n", BOOTCFG_ENAME, 1);
	check_one_error("[image a/b]\nkernel=k\n", BOOTCFG_ENAME, 1);
	check_one_error("[image 0123456789012345678901234567890x]\nkernel=k\n", BOOTCFG_ENAME, 1);
	check_one_error("[image a\nkernel=k\n", BOOTCFG_EHEADER, 1);
	check_one_error("[image a] x\nkernel=k\n", BOOTCFG_EHEADER, 1);
	/* another kind of section: an error; the image before it is kept */
	parse("[image a]\nkernel=k\n[other x]\nkernel=k\n");
	CHECK_EQ(cfg.nimages, 1);
	CHECK_EQ(cfg.nerrors, 1);
	CHECK_EQ(cfg.errors[0].err, BOOTCFG_EHEADER);
	CHECK_EQ(cfg.errors[0].line, 3);
	/* 31 characters, every kind of name character */
	parse("[image Az09._-aaaaaaaaaaaaaaaaaaaaaaaa]\nkernel=k\n");
	CHECK_EQ(cfg.nimages, 1);
	CHECK_EQ(strlen(cfg.images[0].name), 31);
}

/* check_one_error over the error kinds that have a line of their own. */
TEST(bootcfg_key_errors)
{
	check_one_error("[image a]\nkernel=k\nthis is no key\n", BOOTCFG_ESYNTAX, 3);
	check_one_error("[image a]\nKernel=k\n", BOOTCFG_EKEY, 2);
	check_one_error("[image a]\nkernel=k\nroot=/dev/sda\n", BOOTCFG_EKEY, 3);
	check_one_error("[image a]\n=k\n", BOOTCFG_EKEY, 2);
	check_one_error("[image a]\nkernel=k\nkernel=j\n", BOOTCFG_EDUPKEY, 3);
	check_one_error("[image a]\nkernel=k\ninitrd=i\ninitrd=i\n", BOOTCFG_EDUPKEY, 4);
	check_one_error("[image a]\nkernel=k\ncmdline=\ncmdline=x\n", BOOTCFG_EDUPKEY, 4);
	check_one_error("[image a]\nkernel=\n", BOOTCFG_EEMPTY, 2);
	check_one_error("[image a]\nkernel=  \t\n", BOOTCFG_EEMPTY, 2);
	check_one_error("[image a]\nkernel=/EFI/linux/\n", BOOTCFG_EEMPTY, 2);
	check_one_error("[image a]\nkernel=k\ninitrd=\n", BOOTCFG_EEMPTY, 3);
	check_one_error("[image a]\nkernel=k\x01\n", BOOTCFG_ECHAR, 2);
	check_one_error("[image a]\nkernel=k\ninitrd=\xc3\xa9\n", BOOTCFG_ECHAR, 3);
	check_one_error("[image a]\nkernel=k\ncmdline=a\x7f\n", BOOTCFG_ECHAR, 3);
	check_one_error("[image a]\ninitrd=i\n", BOOTCFG_ENOKERNEL, 1);
	check_one_error("[image a]\n# kernel=k\n", BOOTCFG_ENOKERNEL, 1);
	CHECK(!strcmp(cfg.errors[0].name, "a"));

	/* a NUL byte inside a value */
	static const char nul[] = "[image a]\nkernel=k\0x\n";
	bootcfg_parse(nul, sizeof(nul) - 1, &cfg);
	CHECK_EQ(cfg.nimages, 0);
	CHECK_EQ(cfg.nerrors, 1);
	CHECK_EQ(cfg.errors[0].err, BOOTCFG_ECHAR);
}

TEST(bootcfg_lengths)
{
	static char t[4096];
	char path[300], cmd[1100];

	/* 254 characters + the leading '\': 255, the most */
	memset(path, 'p', 254);
	path[254] = 0;
	snprintf(t, sizeof(t), "[image a]\nkernel=%s\n", path);
	parse(t);
	CHECK_EQ(cfg.nimages, 1);
	CHECK_EQ(strlen(cfg.images[0].kernel), 255);
	snprintf(t, sizeof(t), "[image a]\nkernel=/%s\n", path); /* same once normalised */
	parse(t);
	CHECK_EQ(cfg.nimages, 1);
	path[254] = 'p';
	path[255] = 0;
	snprintf(t, sizeof(t), "[image a]\nkernel=k\ninitrd=%s\n", path);
	check_one_error(t, BOOTCFG_ELONG, 3);

	memset(cmd, 'c', 1023);
	cmd[1023] = 0;
	snprintf(t, sizeof(t), "[image a]\nkernel=k\ncmdline=%s\n", cmd);
	parse(t);
	CHECK_EQ(cfg.nimages, 1);
	CHECK_EQ(strlen(cfg.images[0].cmdline), 1023);
	cmd[1023] = 'c';
	cmd[1024] = 0;
	snprintf(t, sizeof(t), "[image a]\nkernel=k\ncmdline=%s\n", cmd);
	check_one_error(t, BOOTCFG_ELONG, 3);
}

TEST(bootcfg_bad_section_dropped_others_kept)
{
	parse("args\n"
	      "[image good1]\nkernel=/a\n"
	      "[image bad]\nkernel=/b\nfoo=1\nkernel=/c\n" /* foo= first: reported once */
	      "[image good2]\ninitrd=/i\nkernel=/d\n"
	      "[image good1]\nkernel=/e\n" /* duplicate of a kept one */
	      "[image bad!]\nkernel=/f\n"
	      "[image bad]\nkernel=/g\n"); /* its namesake was dropped: kept */
	CHECK_EQ(cfg.nimages, 3);
	CHECK(img("good1") && !strcmp(img("good1")->kernel, "\\a"));
	CHECK(img("good2") && !strcmp(img("good2")->initrd, "\\i"));
	CHECK(img("bad") && !strcmp(img("bad")->kernel, "\\g"));
	CHECK_EQ(cfg.nerrors, 3);
	CHECK_EQ(cfg.errors[0].err, BOOTCFG_EKEY);
	CHECK_EQ(cfg.errors[0].line, 6);
	CHECK(!strcmp(cfg.errors[0].name, "bad"));
	CHECK_EQ(cfg.errors[1].err, BOOTCFG_EDUP);
	CHECK_EQ(cfg.errors[1].line, 11);
	CHECK(!strcmp(cfg.errors[1].name, "good1"));
	CHECK_EQ(cfg.errors[2].err, BOOTCFG_ENAME);
	CHECK_EQ(cfg.errors[2].line, 13);
	CHECK(!strcmp(cfg.errors[2].name, ""));
}

TEST(bootcfg_too_many_images)
{
	static char t[4096];
	size_t n = 0;

	for (int i = 0; i < BOOTCFG_MAX_IMAGES + 2; i++)
		n += (size_t)snprintf(t + n, sizeof(t) - n, "[image i%d]\nkernel=/k%d\n", i, i);
	parse(t);
	CHECK_EQ(cfg.nimages, BOOTCFG_MAX_IMAGES);
	CHECK(img("i7") && !img("i8") && !img("i9"));
	CHECK_EQ(cfg.nerrors, 2);
	CHECK_EQ(cfg.errors[0].err, BOOTCFG_EMANY);
	CHECK_EQ(cfg.errors[0].line, 17);
	CHECK(!strcmp(cfg.errors[1].name, "i9"));
}

TEST(bootcfg_errors_counted_past_the_list)
{
	static char t[4096];
	size_t n = 0;

	for (int i = 0; i < BOOTCFG_MAX_ERRORS + 5; i++)
		n += (size_t)snprintf(t + n, sizeof(t) - n, "[image e%d]\n", i);
	parse(t);
	CHECK_EQ(cfg.nerrors, BOOTCFG_MAX_ERRORS);
	CHECK_EQ(cfg.errors_lost, 5);
	CHECK_EQ(cfg.errors[BOOTCFG_MAX_ERRORS - 1].line, BOOTCFG_MAX_ERRORS);
}

TEST(bootcfg_strerror_names_every_error)
{
	for (int e = BOOTCFG_EHEADER; e <= BOOTCFG_EMANY; e++) {
		const char *s = bootcfg_strerror((enum bootcfg_error)e);
		CHECK(s && strcmp(s, "error") && strlen(s) > 5);
	}
	CHECK(!strcmp(bootcfg_strerror((enum bootcfg_error)0), "error"));
}
