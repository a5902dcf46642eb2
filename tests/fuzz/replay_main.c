/*
 * replay_main.c — runs a libFuzzer target over every file of a corpus
 * directory when the compiler has no libFuzzer (gcc builds), so the corpus
 * is still a regression test under the sanitizers.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int run_file(const char *path)
{
        FILE *f = fopen(path, "rb");
        long n;
        uint8_t *buf = NULL;
        int rc = -1;

        if (!f)
                return -1;
        if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET))
                goto out;
        buf = malloc((size_t)n + 1);
        if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n)
                goto out;
        LLVMFuzzerTestOneInput(buf, (size_t)n);
        rc = 0;
out:
        free(buf);
        fclose(f);
        return rc;
}

int main(int argc, char **argv)
{
        int files = 0;

        for (int i = 1; i < argc; i++) {
                DIR *d = opendir(argv[i]);
                struct dirent *e;

                if (!d) {
                        fprintf(stderr, "cannot open corpus %s\n", argv[i]);
                        return 1;
                }
                while ((e = readdir(d))) {
                        char path[4096];

                        if (e->d_name[0] == '.')
                                continue;
                        snprintf(path, sizeof(path), "%s/%s", argv[i], e->d_name);
                        if (run_file(path) == 0)
                                files++;
                }
                closedir(d);
        }
        printf("replayed %d corpus files\n", files);
        return files > 0 ? 0 : 1;
}
