// The `custom` interceptor of the bench case `full`: a hook that does a little work on
// every request and answer (a request header, a response header), as an audit hook would.
let seen = 0;
export default {
  name: 'bench-hook',
  onRequest(ctx) {
    ctx.req.headers['x-bench-seen'] = String(++seen);
  },
  onResponse(_ctx, head) {
    head.headers['x-bench-hook'] = '1';
  },
};
