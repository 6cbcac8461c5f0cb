/* test_process_info.c — unit tests for process_info.c: cgroup_identity_parse() over every
 * sample in $PORTREG_FIXTURES/cgroup and inline edge cases (line choice, container and unit
 * rules, exact line/column errors), and process_info_read() over the fixture proc tree in
 * $PORTREG_FIXTURES/procfs/basic and over this test process itself. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "net/process_info.h"

#define DOCKER_ID "3f4e5d6c7b8a99aabbccddeeff00112233445566778899aabbccddeeff001122"
#define PODMAN_ID "9a8b7c6d5e4f30211203a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9"
#define K8S_ID "c0ffee00112233445566778899aabbccddeeff00112233445566778899aabbcc"
#define CRIO_ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

struct identity_case {
    const char *name;   /* fixture file, or a label for inline text */
    const char *path, *unit, *runtime, *id, *pod;
};

static void assert_identity(const struct identity_case *c, const struct cgroup_identity *got)
{
    if (strcmp(got->path, c->path) != 0 || strcmp(got->unit, c->unit) != 0 ||
        strcmp(got->container_runtime, c->runtime) != 0 ||
        strcmp(got->container_id, c->id) != 0 || strcmp(got->pod_uid, c->pod) != 0)
        fail_msg("%s: got path \"%s\" unit \"%s\" runtime \"%s\" id \"%s\" pod \"%s\"\n"
                 "expected path \"%s\" unit \"%s\" runtime \"%s\" id \"%s\" pod \"%s\"",
                 c->name, got->path, got->unit, got->container_runtime, got->container_id,
                 got->pod_uid, c->path, c->unit, c->runtime, c->id, c->pod);
}

static char *read_fixture(const char *relative)
{
    const char *fixtures = getenv("PORTREG_FIXTURES");
    if (!fixtures)
        fail_msg("PORTREG_FIXTURES is not set");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", fixtures, relative);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    char *text = calloc(1, 65536);
    assert_non_null(text);
    size_t n = fread(text, 1, 65535, f);
    fclose(f);
    text[n] = '\0';
    return text;
}

static const struct identity_case fixture_cases[] = {
    { "systemd-service", "/system.slice/nginx.service", "nginx.service", "", "", "" },
    { "systemd-v1", "/system.slice/ssh.service", "ssh.service", "", "", "" },
    { "user-session-scope", "/user.slice/user-1000.slice/session-3.scope", "session-3.scope", "",
      "", "" },
    { "user-manager", "/user.slice/user-1000.slice/user@1000.service/init.scope",
      "user@1000.service", "", "", "" },
    { "user-app-scope",
      "/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/"
      "vte-spawn-5f1e.scope",
      "vte-spawn-5f1e.scope", "", "", "" },
    { "init-scope", "/init.scope", "init.scope", "", "", "" },
    { "root", "/", "", "", "", "" },
    { "v1-no-systemd", "/", "", "", "", "" },
    { "docker-v2", "/system.slice/docker-" DOCKER_ID ".scope", "", "docker", DOCKER_ID, "" },
    { "docker-v1", "/docker/" DOCKER_ID, "", "docker", DOCKER_ID, "" },
    { "docker-hybrid", "/docker/" DOCKER_ID, "", "docker", DOCKER_ID, "" },
    { "podman-rootful", "/machine.slice/libpod-" PODMAN_ID ".scope/container", "", "podman",
      PODMAN_ID, "" },
    { "podman-rootless",
      "/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" PODMAN_ID ".scope",
      "user@1000.service", "podman", PODMAN_ID, "" },
    { "podman-conmon", "/machine.slice/libpod-conmon-" PODMAN_ID ".scope",
      "libpod-conmon-" PODMAN_ID ".scope", "", "", "" },
    { "k8s-containerd",
      "/kubepods.slice/kubepods-burstable.slice/"
      "kubepods-burstable-pod0c5d4b8e_6a2f_4d1c_9f3e_2b7a8c9d0e1f.slice/cri-containerd-" K8S_ID
      ".scope",
      "", "containerd", K8S_ID, "0c5d4b8e-6a2f-4d1c-9f3e-2b7a8c9d0e1f" },
    { "k8s-crio-guaranteed",
      "/kubepods.slice/kubepods-pod7d1c2b3a_4e5f_4a6b_8c7d_9e0f1a2b3c4d.slice/crio-" CRIO_ID
      ".scope",
      "", "cri-o", CRIO_ID, "7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d" },
    { "k8s-crio-conmon",
      "/kubepods.slice/kubepods-besteffort.slice/"
      "kubepods-besteffort-pod7d1c2b3a_4e5f_4a6b_8c7d_9e0f1a2b3c4d.slice/crio-conmon-" CRIO_ID
      ".scope",
      "crio-conmon-" CRIO_ID ".scope", "", "", "7d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d" },
    { "k8s-cgroupfs-v1", "/kubepods/burstable/pod5e6f7a8b-1c2d-4e3f-a4b5-c6d7e8f9a0b1/" K8S_ID,
      "", "", K8S_ID, "5e6f7a8b-1c2d-4e3f-a4b5-c6d7e8f9a0b1" },
    { "lxc-payload", "/lxc.payload.web01/system.slice/nginx.service", "nginx.service", "lxc",
      "web01", "" },
    { "lxc-v1", "/lxc/db-1/init.scope", "init.scope", "lxc", "db-1", "" },
    { "lxc-monitor", "/lxc.monitor.web01", "", "", "", "" },
};

static void test_parse_fixtures(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof fixture_cases / sizeof fixture_cases[0]; i++) {
        char relative[256];
        snprintf(relative, sizeof relative, "cgroup/%s", fixture_cases[i].name);
        char *text = read_fixture(relative);
        struct cgroup_identity got;
        memset(&got, 'x', sizeof got);
        struct pr_error err = { 0 };
        int r = cgroup_identity_parse(text, &got, &err);
        free(text);
        if (r != 0)
            fail_msg("%s: %s (line %u column %u)", fixture_cases[i].name, err.message, err.line,
                     err.column);
        assert_identity(&fixture_cases[i], &got);
    }
}

struct inline_case {
    const char *text;
    struct identity_case expected;
};

static const struct inline_case inline_cases[] = {
    /* line choice: v2 first, then name=systemd (anywhere in the list), then the first line */
    { "3:cpu:/a.service\n1:name=systemd:/b.service\n0::/c.service\n",
      { "v2 wins", "/c.service", "c.service", "", "", "" } },
    { "3:cpu:/a.service\n2:memory,name=systemd:/b.service\n",
      { "name=systemd in a list", "/b.service", "b.service", "", "", "" } },
    { "3:cpu:/a.service\n2:name=systemdx:/b.service\n",
      { "not name=systemd", "/a.service", "a.service", "", "", "" } },
    { "1:0:/a.service\n0:x:/b.service\n", { "0 with controllers is v1", "/a.service",
                                             "a.service", "", "", "" } },
    { "", { "empty", "", "", "", "", "" } },
    { "\n\n", { "blank lines", "", "", "", "", "" } },
    { "0::/x.service", { "no final newline", "/x.service", "x.service", "", "", "" } },
    { "0::/x.service\r\n", { "CRLF", "/x.service", "x.service", "", "", "" } },
    { "0::/a:b/c.socket\n", { "colon in path", "/a:b/c.socket", "c.socket", "", "", "" } },
    { "0::\n", { "empty path", "", "", "", "", "" } },
    /* units */
    { "0::/system.slice/var-lib.mount\n", { "mount", "/system.slice/var-lib.mount",
                                             "var-lib.mount", "", "", "" } },
    { "0::/system.slice/dev-sda2.swap\n", { "swap", "/system.slice/dev-sda2.swap",
                                             "dev-sda2.swap", "", "", "" } },
    { "0::/system.slice/.service\n", { "bare suffix", "/system.slice/.service", "", "", "", "" } },
    { "0::/system.slice\n", { "slice only", "/system.slice", "", "", "", "" } },
    { "0::/system.slice/foo.service/extra\n", { "unit with sub-cgroup",
                                                 "/system.slice/foo.service/extra",
                                                 "foo.service", "", "", "" } },
    { "0::/system.slice/docker.service\n", { "the docker daemon", "/system.slice/docker.service",
                                              "docker.service", "", "", "" } },
    { "0::/system.slice/docker-" DOCKER_ID ".scope/system.slice/nginx.service\n",
      { "systemd in a container",
        "/system.slice/docker-" DOCKER_ID ".scope/system.slice/nginx.service", "nginx.service",
        "docker", DOCKER_ID, "" } },
    /* container ids: hex, 12 to 79 characters */
    { "0::/system.slice/docker-compose.scope\n", { "docker- but no id",
                                                    "/system.slice/docker-compose.scope",
                                                    "docker-compose.scope", "", "", "" } },
    { "0::/system.slice/docker-0123456789ab.scope\n",
      { "short id", "/system.slice/docker-0123456789ab.scope", "", "docker", "0123456789ab",
        "" } },
    { "0::/system.slice/docker-0123456789a.scope\n",
      { "too short id", "/system.slice/docker-0123456789a.scope", "docker-0123456789a.scope",
        "", "", "" } },
    { "0::/libpod_parent/libpod-" PODMAN_ID "\n",
      { "podman cgroupfs", "/libpod_parent/libpod-" PODMAN_ID, "", "podman", PODMAN_ID, "" } },
    { "0::/containerd/redis-1\n", { "containerd directory", "/containerd/redis-1", "",
                                     "containerd", "redis-1", "" } },
    { "0::/docker\n", { "docker directory alone", "/docker", "", "", "", "" } },
    { "0::/kubepods/besteffort/pod5e6f7a8b-1c2d-4e3f-a4b5-c6d7e8f9a0b1/crio-" CRIO_ID "\n",
      { "cri-o cgroupfs",
        "/kubepods/besteffort/pod5e6f7a8b-1c2d-4e3f-a4b5-c6d7e8f9a0b1/crio-" CRIO_ID, "", "cri-o",
        CRIO_ID, "5e6f7a8b-1c2d-4e3f-a4b5-c6d7e8f9a0b1" } },
    { "0::/kubepods/pod5e6f7a8b-1c2d-4e3f-a4b5-c6d7e8f9a0b1\n",
      { "pod without container", "/kubepods/pod5e6f7a8b-1c2d-4e3f-a4b5-c6d7e8f9a0b1", "", "", "",
        "5e6f7a8b-1c2d-4e3f-a4b5-c6d7e8f9a0b1" } },
    { "0::/pods/pod1234\n", { "pod outside kubepods", "/pods/pod1234", "", "", "", "" } },
    { "0::/lxc.payload/web02\n", { "lxc 3 payload directory", "/lxc.payload/web02", "", "lxc",
                                    "web02", "" } },
};

static void test_parse_inline(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof inline_cases / sizeof inline_cases[0]; i++) {
        struct cgroup_identity got;
        memset(&got, 'x', sizeof got);
        struct pr_error err = { 0 };
        if (cgroup_identity_parse(inline_cases[i].text, &got, &err) != 0)
            fail_msg("%s: %s", inline_cases[i].expected.name, err.message);
        assert_identity(&inline_cases[i].expected, &got);
    }
    struct cgroup_identity got;
    assert_int_equal(cgroup_identity_parse(NULL, &got, NULL), 0);
    assert_string_equal(got.path, "");
}

/* A unit or path chosen by a user (a user's own systemd units) is kept escaped. */
static void test_parse_escapes_unit_and_path(void **state)
{
    (void)state;
    struct cgroup_identity got;
    struct pr_error err = { 0 };
    assert_int_equal(cgroup_identity_parse("0::/user.slice/a\033[2J\tb\377.service\n", &got, &err), 0);
    assert_string_equal(got.unit, "a\\x1b[2J\\tb\\xff.service");
    assert_string_equal(got.path, "/user.slice/a\\x1b[2J\\tb\\xff.service");
}

/* The name a process gives itself is escaped when read: ps does the same. */
static void test_read_self_escapes_comm(void **state)
{
    (void)state;
    char saved[16] = { 0 };
    assert_int_equal(prctl(PR_GET_NAME, saved), 0);
    assert_int_equal(prctl(PR_SET_NAME, "\x1b[2J\t\xff\xc2\x9b"), 0);
    struct process_info info;
    struct pr_error err = { 0 };
    int r = process_info_read(NULL, (uint32_t)getpid(), &info, &err);
    prctl(PR_SET_NAME, saved);
    assert_int_equal(r, 0);
    assert_string_equal(info.comm, "\\x1b[2J\\t\\xff\\xc2\\x9b");
}

static void test_parse_long_path_is_cut(void **state)
{
    (void)state;
    char text[2048] = "0::/";
    for (size_t i = strlen(text); i < 1500; i++)
        text[i] = 'a' + (char)(i % 26);
    strcat(text, "/late.service\n");
    struct cgroup_identity got;
    assert_int_equal(cgroup_identity_parse(text, &got, NULL), 0);
    assert_int_equal(strlen(got.path), sizeof got.path - 1);
    assert_memory_equal(got.path, text + 3, sizeof got.path - 1);
    assert_string_equal(got.unit, "late.service");   /* read from the whole line */

    char pod[256] = "0::/kubepods.slice/kubepods-pod";   /* a uid longer than the field */
    for (size_t i = strlen(pod); i < 120; i++)
        pod[i] = '1';
    strcat(pod, ".slice\n");
    assert_int_equal(cgroup_identity_parse(pod, &got, NULL), 0);
    assert_string_equal(got.pod_uid, "");
}

struct error_case {
    const char *text;
    unsigned line, column;
    const char *message;
};

static const struct error_case error_cases[] = {
    { "garbage\n", 1, 8, "expected ':' after the hierarchy ID" },
    { "0::/\n1:cpu\n", 2, 6, "expected ':' after the controller list" },
    { "0::/\n1:cpu\r\n", 2, 6, "expected ':' after the controller list" },
    { ":cpu:/\n", 1, 1, "expected a hierarchy ID" },
    { "0::/\n\n1x:cpu:/\n", 3, 2, "hierarchy ID must be a number" },
    { " 0::/\n", 1, 1, "hierarchy ID must be a number" },
    { "0::/ok.service\n12:memory:/\n7\n", 3, 2, "expected ':' after the hierarchy ID" },
    { "0::/\nno colon at all", 2, 16, "expected ':' after the hierarchy ID" },
};

static void test_parse_errors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof error_cases / sizeof error_cases[0]; i++) {
        struct cgroup_identity got;
        memset(&got, 'x', sizeof got);
        struct pr_error err = { 0 };
        int r = cgroup_identity_parse(error_cases[i].text, &got, &err);
        if (r != -EINVAL || err.code != -EINVAL || err.line != error_cases[i].line ||
            err.column != error_cases[i].column || strcmp(err.message, error_cases[i].message))
            fail_msg("case %zu: r %d line %u column %u \"%s\"; expected %u:%u \"%s\"", i, r,
                     err.line, err.column, err.message, error_cases[i].line,
                     error_cases[i].column, error_cases[i].message);
        assert_int_equal(got.path[0], 'x');   /* untouched on error */
    }
}

/* ---- process_info_read ---- */

static void fixture_root(char *buffer, size_t size)
{
    const char *fixtures = getenv("PORTREG_FIXTURES");
    if (!fixtures)
        fail_msg("PORTREG_FIXTURES is not set");
    snprintf(buffer, size, "%s/procfs/basic", fixtures);
}

static void test_read_fixture_tree(void **state)
{
    (void)state;
    char root[1024];
    fixture_root(root, sizeof root);
    struct process_info info;
    struct pr_error err = { 0 };

    assert_int_equal(process_info_read(root, 100, &info, &err), 0);
    assert_int_equal(info.pid, 100);
    assert_string_equal(info.comm, "nginx");
    assert_int_equal(info.uid, 33);
    assert_string_equal(info.cgroup.path, "/system.slice/nginx.service");
    assert_string_equal(info.cgroup.unit, "nginx.service");

    assert_int_equal(process_info_read(root, 200, &info, &err), 0);
    assert_string_equal(info.comm, "redis-server");
    assert_int_equal(info.uid, 999);   /* the real uid, first of four */
    assert_string_equal(info.cgroup.container_runtime, "docker");
    assert_string_equal(info.cgroup.container_id, DOCKER_ID);
    assert_string_equal(info.cgroup.unit, "");

    /* no status file, comm without a newline */
    assert_int_equal(process_info_read(root, 300, &info, &err), 0);
    assert_string_equal(info.comm, "a-fifteen-chars");
    assert_int_equal(info.uid, UINT32_MAX);
    assert_string_equal(info.cgroup.unit, "init.scope");

    /* an unparsable Uid: line and cgroup file leave those fields empty */
    assert_int_equal(process_info_read(root, 400, &info, &err), 0);
    assert_string_equal(info.comm, "broken-cgroup");
    assert_int_equal(info.uid, UINT32_MAX);
    assert_string_equal(info.cgroup.path, "");

    memset(&err, 0, sizeof err);
    assert_int_equal(process_info_read(root, 555, &info, &err), -ENOENT);
    assert_int_equal(err.code, -ENOENT);
    assert_string_equal(err.message, "process 555 not found");
    assert_int_equal(info.pid, 555);
    assert_string_equal(info.comm, "");
}

static void test_read_self(void **state)
{
    (void)state;
    struct process_info info;
    struct pr_error err = { 0 };
    if (process_info_read(NULL, (uint32_t)getpid(), &info, &err) != 0)
        fail_msg("process_info_read: %s", err.message);
    char expected_comm[16];
    snprintf(expected_comm, sizeof expected_comm, "%s", program_invocation_short_name);
    assert_string_equal(info.comm, expected_comm);
    assert_int_equal(info.uid, getuid());

    /* the path of the line the parser should pick, found here the simple way */
    char *text = calloc(1, 65536);
    assert_non_null(text);
    FILE *f = fopen("/proc/self/cgroup", "r");
    assert_non_null(f);
    size_t n = fread(text, 1, 65535, f);
    fclose(f);
    text[n] = '\0';
    const char *line = strstr(text, "0::");
    if (line && line != text && line[-1] != '\n')
        line = NULL;
    if (!line) {
        line = strstr(text, ":name=systemd:");
        if (line) {
            while (line > text && line[-1] != '\n')
                line--;
        } else {
            line = text;
        }
    }
    const char *path = strchr(strchr(line, ':') + 1, ':') + 1;
    size_t length = strcspn(path, "\n");
    char expected_path[512];
    snprintf(expected_path, sizeof expected_path, "%.*s", (int)length, path);
    free(text);
    assert_string_equal(info.cgroup.path, expected_path);

    assert_int_equal(process_info_read("/proc", 4294967294u, &info, &err), -ENOENT);

    char long_root[700];
    memset(long_root, 'a', sizeof long_root - 1);
    long_root[sizeof long_root - 1] = '\0';
    assert_int_equal(process_info_read(long_root, 1, &info, &err), -ENAMETOOLONG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fixtures),
        cmocka_unit_test(test_parse_inline),
        cmocka_unit_test(test_parse_escapes_unit_and_path),
        cmocka_unit_test(test_read_self_escapes_comm),
        cmocka_unit_test(test_parse_long_path_is_cut),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_read_fixture_tree),
        cmocka_unit_test(test_read_self),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
