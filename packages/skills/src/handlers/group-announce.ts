import { groupAnnounce } from "../builtin.ts";
import { fail, handlerFor } from "../handler.ts";

export const groupAnnounceHandler = handlerFor(groupAnnounce, async (input, ctx) => {
  if (!ctx.announce) return fail("announcing is not available in this runtime");
  const settings = groupAnnounce.settings.safeParse(ctx.settings ?? {});
  if (!settings.success) return fail("group.announce settings are invalid (allowedConversations: string[])");
  const { allowedConversations } = settings.data;
  const target = input.conversationId ?? ctx.conversationId;
  if (allowedConversations && !allowedConversations.includes(target)) {
    return fail(`announcements to ${target} are not allowed by this skill's settings`);
  }
  await ctx.announce(target, input.title, input.text);
  const where = target === ctx.conversationId ? "this conversation" : target;
  return { ok: true, content: `Announcement "${input.title}" posted in ${where}.`, data: { conversationId: target } };
});
