/* SPDX-License-Identifier: MIT */
/*
 * The one intrusive doubly linked list of the program: a struct list_node embedded in
 * each element, a struct list_node as the head (a circle through the head, so insert
 * and remove never branch on "first" or "last"). No allocation; header only, shared by
 * every layer.
 */
#ifndef T2S_COMMON_LIST_H
#define T2S_COMMON_LIST_H

#include <stdbool.h>
#include <stddef.h>

#include "container_of.h"

struct list_node {
	struct list_node *prev, *next; /* NULL while not in a list (list_node_init) */
};

static inline void
list_init(struct list_node *head)
{
	head->prev = head->next = head;
}

static inline void
list_node_init(struct list_node *n)
{
	n->prev = n->next = NULL;
}

static inline bool
list_empty(const struct list_node *head)
{
	return head->next == head;
}

/* True while n is in a list. */
static inline bool
list_linked(const struct list_node *n)
{
	return n->next != NULL;
}

static inline void
list_insert_between(struct list_node *n, struct list_node *prev, struct list_node *next)
{
	n->prev = prev;
	n->next = next;
	prev->next = n;
	next->prev = n;
}

static inline void
list_push_front(struct list_node *head, struct list_node *n)
{
	list_insert_between(n, head, head->next);
}

static inline void
list_push_back(struct list_node *head, struct list_node *n)
{
	list_insert_between(n, head->prev, head);
}

/* Takes n out of its list; a node in no list is left alone. */
static inline void
list_remove(struct list_node *n)
{
	if (n->next == NULL)
		return;
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = NULL;
}

/* The first or last node, NULL when the list is empty. */
static inline struct list_node *
list_first(const struct list_node *head)
{
	return head->next != head ? head->next : NULL;
}

static inline struct list_node *
list_last(const struct list_node *head)
{
	return head->prev != head ? head->prev : NULL;
}

/* The element that embeds node (as member), or NULL for a NULL node. */
#define list_entry(node, type, member) ((node) != NULL ? container_of((node), type, member) : (type *)NULL)

#endif
