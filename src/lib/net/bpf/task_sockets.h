/* task_sockets.h — the record task_sockets.bpf.c writes with bpf_seq_write() and procmap_bpf.c
 * reads from the iterator fd. Shared by the BPF program and user space, so it uses only C types
 * whose sizes agree on both sides (no libc, no kernel headers). */
#ifndef PORTREG_NET_BPF_TASK_SOCKETS_H
#define PORTREG_NET_BPF_TASK_SOCKETS_H

/* A socket file: pid (thread-group id, as seen from the reader's pid namespace), fd, inode.
 * The last record of a complete pass is the summary: fd == TASK_SOCKETS_SUMMARY_FD, pid = the
 * processes that had files, inode = every file descriptor the iterator visited. */
struct task_socket_record {
    unsigned int pid;
    int fd;
    unsigned long long inode;
};

#define TASK_SOCKETS_SUMMARY_FD (-1)

_Static_assert(sizeof(struct task_socket_record) == 16, "record layout is shared with BPF");

#endif
