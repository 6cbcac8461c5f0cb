/* task_sockets.bpf.c — BPF iter/task_file program: for every file of every process (thread-group
 * leaders only) writes one struct task_socket_record when the file is a socket, then a summary.
 * When user space turns the filter on (see task_sockets.h), only sockets whose inode is in the
 * wanted_inodes hash map are written (a bitmap turns most others away first), so a pass for a
 * few sockets copies out a few records and skips a hash lookup per unwanted socket.
 * CO-RE without vmlinux.h: the few kernel structs below are minimal copies marked
 * preserve_access_index, so libbpf relocates their field offsets against the running kernel. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "task_sockets.h"

#define S_IFMT 0170000
#define S_IFSOCK 0140000

struct seq_file;
struct pid_namespace;

struct bpf_iter_meta {
    struct seq_file *seq;
    __u64 session_id;
    __u64 seq_num;
} __attribute__((preserve_access_index));

struct upid {
    int nr;
    struct pid_namespace *ns;
};

struct pid {
    unsigned int level;
    struct upid numbers[1];
} __attribute__((preserve_access_index));

struct task_struct {
    int pid;
    int tgid;
    struct pid *thread_pid;
} __attribute__((preserve_access_index));

struct inode {
    unsigned short i_mode;
    unsigned long i_ino;
} __attribute__((preserve_access_index));

struct file {
    struct inode *f_inode;
} __attribute__((preserve_access_index));

struct bpf_iter__task_file {
    struct bpf_iter_meta *meta;
    struct task_struct *task;
    __u32 fd;
    struct file *file;
} __attribute__((preserve_access_index));

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* The inode filter of task_sockets.h: names and sizes are shared with procmap_bpf.c. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, TASK_SOCKETS_WANTED_MAX);
    __type(key, __u64);
    __type(value, __u8);
} wanted_inodes SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct task_sockets_filter);
} inode_filter SEC(".maps");

/* Iterator state: tasks come in pid order and files in fd order, so a new tgid starts a new
 * process. Fresh for every load of the object (one pass per load). */
static __u32 last_tgid;
static __u32 processes_with_files;

/* The pid number of task in the pid namespace of the reading process (the namespace the
 * iterator walks); 0 when the task is not visible there. */
static __u32 tgid_in_reader_namespace(struct task_struct *task)
{
    /* bpf_get_current_task_btf() came in Linux 5.11; before it, global pids (the iterator
     * exists since 5.8). libbpf resolves this check against the kernel's BTF at load time. */
    if (!bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_get_current_task_btf))
        return (__u32)task->tgid;
    struct task_struct *reader = bpf_get_current_task_btf();
    struct pid *reader_pid = reader->thread_pid;
    struct pid *task_pid = task->thread_pid;
    if (!reader_pid || !task_pid)
        return 0;
    unsigned int level = reader_pid->level;
    if (level == 0)
        return (__u32)task->tgid;
    if (level > task_pid->level)
        return 0;
    struct upid reader_upid, task_upid;
    /* struct upid is {int, pointer} on every kernel; the array's start is relocated. */
    if (bpf_probe_read_kernel(&reader_upid, sizeof reader_upid,
                              (const char *)&reader_pid->numbers[0] + level * sizeof(struct upid)) ||
        bpf_probe_read_kernel(&task_upid, sizeof task_upid,
                              (const char *)&task_pid->numbers[0] + level * sizeof(struct upid)))
        return 0;
    if (task_upid.ns != reader_upid.ns || task_upid.nr <= 0)
        return 0;
    return (__u32)task_upid.nr;
}

SEC("iter/task_file")
int list_task_socket_files(struct bpf_iter__task_file *ctx)
{
    struct seq_file *seq = ctx->meta->seq;
    struct task_struct *task = ctx->task;
    struct file *file = ctx->file;
    struct task_socket_record record;

    if (!task) {   /* end of a complete pass */
        record.pid = processes_with_files;
        record.fd = TASK_SOCKETS_SUMMARY_FD;
        record.inode = ctx->meta->seq_num;
        bpf_seq_write(seq, &record, sizeof record);
        return 0;
    }
    if (!file || task->pid != task->tgid)   /* threads share the leader's files */
        return 0;
    if ((__u32)task->tgid != last_tgid) {
        last_tgid = (__u32)task->tgid;
        processes_with_files++;
    }
    struct inode *inode = file->f_inode;
    if (!inode || (inode->i_mode & S_IFMT) != S_IFSOCK)
        return 0;
    __u64 ino = inode->i_ino;
    __u32 first = 0;
    struct task_sockets_filter *filter = bpf_map_lookup_elem(&inode_filter, &first);
    if (filter && filter->on &&
        (!(filter->bits[task_sockets_filter_word(ino)] & task_sockets_filter_bit(ino)) ||
         !bpf_map_lookup_elem(&wanted_inodes, &ino)))
        return 0;
    record.pid = tgid_in_reader_namespace(task);
    if (!record.pid)
        return 0;
    record.fd = (int)ctx->fd;
    record.inode = ino;
    bpf_seq_write(seq, &record, sizeof record);
    return 0;
}
