// A stage of your own for the `custom` interceptor (see examples/request-shaping.yaml).
// The default export is a Stage object, or a function (options, { router }) returning one.
export default (options, { router }) => ({
  name: 'audit',
  // No priority: it runs at its place in the router's interceptor list.
  onRequest(ctx) {
    ctx.req.headers['x-audited-by'] = `${options.team ?? 'sidegate'}/${router}`;
  },
  onResponse(_ctx, head) {
    head.headers['x-audited'] = 'yes';
  },
});
