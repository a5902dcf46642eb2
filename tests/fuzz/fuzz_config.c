/* fuzz_config.c — libFuzzer target: the settings-file parser behind
 * `--config FILE` (common/config.c). Any bytes give either an error that
 * names FILE:LINE, or an argv of --flags of the table, each followed by a
 * value when the flag takes one, then the command line's own arguments. */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common/scim_common.h"

static const struct option OPTS[] = {{"listen", required_argument, NULL, 'l'},
                                     {"mount", required_argument, NULL, 1},
                                     {"verbose", no_argument, NULL, 2},
                                     {"help", no_argument, NULL, 'h'},
                                     {NULL, 0, NULL, 0}};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        int fd = memfd_create("conf", 0), xargc = 0;
        char path[64], err[512] = "", **xargv = NULL;
        char *argv[] = {"serve", "--config", path, "--listen", "cli:1", NULL};

        if (fd < 0)
                return 0;
        if (write(fd, data, size) != (ssize_t)size) {
                close(fd);
                return 0;
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        if (scim_config_expand(OPTS, 5, argv, &xargc, &xargv, err,
                               sizeof(err)) == 0) {
                int i = 1;

                if (xargc < 3 || !xargv || xargv[xargc])
                        abort();
                /* the command line's flags come last, --config removed */
                if (strcmp(xargv[xargc - 2], "--listen") ||
                    strcmp(xargv[xargc - 1], "cli:1"))
                        abort();
                while (i < xargc - 2) {
                        if (!strcmp(xargv[i], "--listen") ||
                            !strcmp(xargv[i], "--mount")) {
                                if (i + 1 >= xargc - 2 || !*xargv[i + 1])
                                        abort();
                                i += 2;
                        } else if (!strcmp(xargv[i], "--verbose")) {
                                i++;
                        } else {
                                abort();
                        }
                }
                scim_config_free(xargv);
        } else if (!strstr(err, path) || xargv) {
                abort();
        }
        close(fd);
        return 0;
}
