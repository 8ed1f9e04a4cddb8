/*
 * lib/err.h — errors are negative errno values everywhere in sluice.
 * err_name() gives the name the console prints in `ERR <NAME> ...`.
 */
#ifndef SLUICE_LIB_ERR_H
#define SLUICE_LIB_ERR_H

#include <errno.h>

#ifndef ENOTSUP
#define ENOTSUP 134
#endif

/* make lint defines it empty: cppcheck cannot parse the attribute on
 * function-pointer members. */
#ifndef MUST_CHECK
#define MUST_CHECK __attribute__((warn_unused_result))
#endif

/* Name of a positive or negative errno value ("EINVAL"); "EIO" for unknown. */
const char *err_name(int err);

#endif
